import ImageIO
import PeakKit

/// The files `peaks generate` writes for a generated image, as bytes (write them atomically).
public enum GeneratedFiles {
    /// `image.npy` (float32, the exact values), `image.png` (16-bit grey:
    /// round(value * pngScale + pngOffset), scale and offset in truth.json), `mask.png` (8-bit,
    /// 255 = valid) when the image has a mask, and `truth.json` (`TruthFile.render`).
    public static func render(_ g: GeneratedImage) -> [(name: String, bytes: [UInt8])] {
        var files: [(name: String, bytes: [UInt8])] = [("image.npy", NPY.encodeFloat32(g.image))]
        // Encoding a valid in-memory image cannot fail short of libpng running out of memory;
        // an empty byte array would then be caught by the checksum test and the reader.
        files.append(("image.png", (try? ImageEncoding.png16(g.image, scale: g.pngScale, offset: g.pngOffset)) ?? []))
        if let mask = g.mask { files.append(("mask.png", (try? ImageEncoding.maskPNG(mask)) ?? [])) }
        files.append(("truth.json", Array(TruthFile.render(g).utf8)))
        return files
    }
}
