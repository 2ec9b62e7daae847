import PeakKit

/// How sure a format is that a file is its own, from the file's first bytes.
public enum Recognition: Int, Sendable, Comparable {
    /// Not this format.
    case no = 0
    /// Could be this format (no magic number; e.g. MRC's "MAP " at byte 208 is optional): the
    /// file's extension decides between such candidates.
    case weak = 1
    /// The format's magic number is there.
    case strong = 2

    public static func < (a: Recognition, b: Recognition) -> Bool { a.rawValue < b.rawValue }
}

/// What a format is asked to open besides the file (`--dataset`, `--hdu`).
public struct OpenOptions: Sendable, Equatable {
    /// HDF5: the dataset path inside the file (nil = the NeXus default or the only image dataset).
    public var dataset: String?
    /// FITS: the HDU number, 0 = primary (nil = the primary HDU or the first image extension).
    public var hdu: Int?

    public init(dataset: String? = nil, hdu: Int? = nil) {
        self.dataset = dataset
        self.hdu = hdu
    }
}

/// One file format: how it is recognised, opened and (where it can be) written. Each format lives
/// in one file of ImageIO and is listed once in `ImageFormat.registry`.
public struct ImageFormat: Sendable {
    /// Short name (`PNG`, `NPY`, `TIFF`, ...), as `peaks formats` prints it.
    public let name: String
    /// One line: what variants are read.
    public let summary: String
    /// Usual extensions, lower case without the dot; used only to break ties between weak
    /// recognitions.
    public let extensions: [String]
    /// True when the format can hold more than one frame.
    public let readsStacks: Bool
    /// What `write` produces, e.g. "float32, uint16" (empty: read-only).
    public let writes: String
    /// Looks at the file's first bytes (up to `headBytes`) and its size.
    public let recognize: @Sendable (_ head: [UInt8], _ fileSize: Int) -> Recognition
    /// Opens the file lazily: reads and checks the header, not the pixels.
    public let open: @Sendable (_ file: InputFile, _ options: OpenOptions) throws -> any FrameSource
    /// Encodes an image (nil for read-only formats).
    public let encode: (@Sendable (_ image: Image) throws -> [UInt8])?

    public init(
        name: String, summary: String, extensions: [String], readsStacks: Bool, writes: String = "",
        recognize: @escaping @Sendable ([UInt8], Int) -> Recognition,
        open: @escaping @Sendable (InputFile, OpenOptions) throws -> any FrameSource,
        encode: (@Sendable (Image) throws -> [UInt8])? = nil
    ) {
        self.name = name
        self.summary = summary
        self.extensions = extensions
        self.readsStacks = readsStacks
        self.writes = writes
        self.recognize = recognize
        self.open = open
        self.encode = encode
    }

    /// How many leading bytes recognition gets (HDF5 may sit behind a 512-byte user block; MRC's
    /// "MAP " stamp is at byte 208).
    public static let headBytes = 2048

    /// Every format peaks reads. Adding one: a file in ImageIO defining `static let NAME =
    /// ImageFormat(...)`, and one line here.
    public static let registry: [ImageFormat] = [
        .png,
        .npy,
        .tiff,
        .hdf5,
        .fits,
        .mrc,
        .mib,
        .dm,
    ]

    /// The format with this name (case-insensitive).
    public static func named(_ name: String) -> ImageFormat? {
        registry.first { $0.name.lowercased() == name.lowercased() }
    }

    /// The format of a file: the strongest recognition; between equally weak ones, the one whose
    /// extensions include the file's.
    ///
    /// - Throws: `PeaksError.file` when no format recognises the file, with a hint of what it is.
    public static func detect(_ file: InputFile) throws -> ImageFormat {
        let head = try file.head(headBytes)
        let ext = file.path.split(separator: "/").last.flatMap { name -> String? in
            guard let dot = name.lastIndex(of: ".") else { return nil }
            return name[name.index(after: dot)...].lowercased()
        }
        var best: (format: ImageFormat, level: Recognition, extMatch: Bool)?
        for format in registry {
            let level = format.recognize(head, file.size)
            guard level > .no else { continue }
            let extMatch = ext.map { format.extensions.contains($0) } ?? false
            if let b = best {
                if level > b.level || (level == b.level && extMatch && !b.extMatch) { best = (format, level, extMatch) }
            } else {
                best = (format, level, extMatch)
            }
        }
        // A weak recognition alone (no magic number) is trusted only with a matching extension.
        if let best, best.level == .strong || best.extMatch { return best.format }
        let names = registry.map(\.name).joined(separator: ", ")
        throw PeaksError.file(path: file.path, reason: "unsupported format: expected one of \(names) (\(describeUnknown(head)))")
    }

    /// A short hint about what an unrecognised file is.
    static func describeUnknown(_ bytes: [UInt8]) -> String {
        func starts(_ s: [UInt8]) -> Bool { bytes.starts(with: s) }
        let known: String?
        if starts([0xFF, 0xD8, 0xFF]) { known = "JPEG" }
        else if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { known = "TIFF" }
        else if starts(Array("GIF8".utf8)) { known = "GIF" }
        else if starts(Array("BM".utf8)) { known = "BMP" }
        else if starts(Array("SIMPLE  =".utf8)) { known = "FITS" }
        else if starts([0x50, 0x4B, 0x03, 0x04]) { known = "ZIP (an .npz archive?)" }
        else if starts([0x89, 0x48, 0x44, 0x46]) { known = "HDF5" }
        else { known = nil }
        if let known { return "the file looks like \(known)" }
        let head = bytes.prefix(8).map { b in
            let h = String(b, radix: 16)
            return h.count == 1 ? "0" + h : h
        }.joined(separator: " ")
        return "the file starts with bytes \(head)"
    }

    /// Opens any supported file as a frame source.
    ///
    /// - Parameters:
    ///   - path: The file.
    ///   - options: Format-specific choices (`--dataset`, `--hdu`).
    /// - Returns: The file's frames, read lazily.
    public static func open(_ path: String, options: OpenOptions = .init()) throws -> any FrameSource {
        let file = try InputFile(path)
        return try detect(file).open(file, options)
    }
}
