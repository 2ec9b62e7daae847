import PeakKit

/// The blob label image on disk: a 16-bit PNG (exact up to 65535 labels) or an int32 NPY.
public enum BlobFile {
    public enum Kind: Sendable { case png, npy }

    /// The kind from the file name; anything but .png or .npy is an error naming the file.
    public static func kind(of path: String) throws -> Kind {
        let lower = path.lowercased()
        if lower.hasSuffix(".png") { return .png }
        if lower.hasSuffix(".npy") { return .npy }
        throw PeaksError.file(path: path, reason: "the blob image must end in .png (16-bit labels) or .npy (int32 labels)")
    }

    /// The file bytes of a label image (the kind from `path`).
    public static func encode(_ labels: LabelImage, path: String) throws -> [UInt8] {
        switch try kind(of: path) {
        case .npy:
            return NPY.encodeInt32(width: labels.width, height: labels.height, values: labels.labels)
        case .png:
            guard labels.maxLabel <= 65535 else {
                throw PeaksError.file(path: path, reason: "\(labels.maxLabel) blobs do not fit a 16-bit PNG; write .npy instead")
            }
            return try PNGEncoder.gray16(width: labels.width, height: labels.height, samples: labels.labels.map { UInt16($0) })
        }
    }
}

