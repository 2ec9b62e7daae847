#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import PeakKit

/// `read(2)`, named so that it does not collide with `ImageFile.read`.
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// Reading and writing image and mask files. The format is chosen by the file's first bytes
/// (PNG signature or `\x93NUMPY`), never by its extension.
///
/// Every failure is a one-line `PeaksError` naming the file.
public enum ImageFile {
    /// The formats `read` recognises.
    public enum Format: String, Sendable {
        case png = "PNG"
        case npy = "NPY"
    }

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The format of a file's contents, or `nil` when it is neither PNG nor NPY.
    public static func format(of bytes: [UInt8]) -> Format? {
        if bytes.starts(with: pngSignature) { return .png }
        if bytes.starts(with: NPY.magic) { return .npy }
        return nil
    }

    // MARK: Reading

    /// Reads an image. PNG: gray -> the raw value (0...255 or 0...65535, not normalised);
    /// gray+alpha -> the gray value (alpha ignored); RGB/RGBA/palette -> luminance
    /// `0.299 R + 0.587 G + 0.114 B` computed in Double then rounded to Float (alpha ignored).
    /// NPY: see `NPY.decode`.
    public static func read(_ path: String) throws -> Image {
        let bytes = try readBytes(path)
        switch try detect(bytes, path: path) {
        case .png: return image(from: try RasterPNG.decode(bytes, path: path))
        case .npy: return try NPY.decode(bytes, path: path)
        }
    }

    /// Reads a mask for `image`: non-zero = valid. PNG gray and gray+alpha: the gray sample is
    /// non-zero (alpha ignored); RGB/RGBA/palette: luminance != 0, i.e. any of R, G, B non-zero
    /// (alpha ignored). NPY: non-zero = valid, zero and NaN = invalid.
    /// Throws `PeaksError.shapeMismatch(what: "mask 'PATH'", ...)` when the shapes differ.
    public static func readMask(_ path: String, for image: Image) throws -> Mask {
        let mask = try readMask(path)
        try mask.checkShape(matches: image, what: "mask '\(path)'")
        return mask
    }

    /// Reads a mask without checking it against an image.
    public static func readMask(_ path: String) throws -> Mask {
        let bytes = try readBytes(path)
        switch try detect(bytes, path: path) {
        case .png: return mask(from: try RasterPNG.decode(bytes, path: path))
        case .npy: return try NPY.decodeMask(bytes, path: path)
        }
    }

    /// Decodes image bytes already in memory (format by magic bytes).
    public static func decode(_ bytes: [UInt8], path: String) throws -> Image {
        switch try detect(bytes, path: path) {
        case .png: return image(from: try RasterPNG.decode(bytes, path: path))
        case .npy: return try NPY.decode(bytes, path: path)
        }
    }

    static func detect(_ bytes: [UInt8], path: String) throws -> Format {
        if let f = format(of: bytes) { return f }
        throw PeaksError.file(path: path, reason: "unsupported format: expected PNG or NPY (\(describeUnknown(bytes)))")
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

    /// Reads a whole file, with one-line reasons for the usual failures: "no such file",
    /// "is a folder, not a file", "cannot read: permission denied", "empty file".
    public static func readBytes(_ path: String) throws -> [UInt8] {
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: path, reason: reason) }
        func reason(_ code: Int32) -> String {
            switch code {
            case ENOENT: return "no such file"
            case ENOTDIR: return "no such file (a part of the path is not a folder)"
            case EACCES, EPERM: return "cannot read: permission denied"
            case EISDIR: return "is a folder, not a file"
            default: return "cannot read: \(String(cString: strerror(code)))"
            }
        }
        if path.isEmpty { throw fail("no such file (empty path)") }
        var info = stat()
        if stat(path, &info) != 0 { throw fail(reason(errno)) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw fail("is a folder, not a file") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw fail(reason(errno)) }
        defer { close(fd) }

        var bytes: [UInt8] = []
        if (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0 { bytes.reserveCapacity(Int(info.st_size)) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail(reason(errno))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        if bytes.isEmpty { throw fail("empty file (0 bytes)") }
        return bytes
    }

    // MARK: PNG conversions

    /// PNG samples to a Float image (see `read`).
    public static func image(from png: RasterPNG) -> Image {
        let n = png.width &* png.height
        let ch = png.channels
        let pixels = [Float](unsafeUninitializedCapacity: n) { out, initialized in
            png.samples.withUnsafeBufferPointer { s in
                if ch >= 3 {
                    for i in 0..<n {
                        let b = i &* ch
                        let lum = 0.299 * Double(s[b]) + 0.587 * Double(s[b &+ 1]) + 0.114 * Double(s[b &+ 2])
                        out[i] = Float(lum)
                    }
                } else {
                    for i in 0..<n { out[i] = Float(s[i &* ch]) }
                }
            }
            initialized = n
        }
        return Image(width: png.width, height: png.height, pixels: pixels)
    }

    /// PNG samples to a mask (see `readMask`).
    public static func mask(from png: RasterPNG) -> Mask {
        let n = png.width &* png.height
        let ch = png.channels
        var valid = [Bool](repeating: false, count: n)
        valid.withUnsafeMutableBufferPointer { out in
            png.samples.withUnsafeBufferPointer { s in
                if ch >= 3 {
                    for i in 0..<n {
                        let b = i &* ch
                        out[i] = (s[b] | s[b &+ 1] | s[b &+ 2]) != 0
                    }
                } else {
                    for i in 0..<n { out[i] = s[i &* ch] != 0 }
                }
            }
        }
        return Mask(width: png.width, height: png.height, isValid: valid)
    }

    // MARK: Writing (atomic: a temporary file renamed into place)

    /// Writes a 16-bit gray PNG: see `ImageEncoding.png16`.
    public static func writePNG16(_ image: Image, to path: String, scale: Double = 1, offset: Double = 0) throws {
        try AtomicFile.write(try encodeForFile(path) { try ImageEncoding.png16(image, scale: scale, offset: offset) }, to: path)
    }

    /// Writes an 8-bit gray PNG: see `ImageEncoding.png8`.
    public static func writePNG8(_ image: Image, to path: String, scale: Double = 1, offset: Double = 0) throws {
        try AtomicFile.write(try encodeForFile(path) { try ImageEncoding.png8(image, scale: scale, offset: offset) }, to: path)
    }

    /// Writes a mask as an 8-bit gray PNG (valid = 255, invalid = 0).
    public static func writeMaskPNG(_ mask: Mask, to path: String) throws {
        try AtomicFile.write(try encodeForFile(path) { try ImageEncoding.maskPNG(mask) }, to: path)
    }

    /// Writes a float32 NPY file (`'<f4'`, C order).
    public static func writeNPY(_ image: Image, to path: String) throws {
        try AtomicFile.write(NPY.encodeFloat32(image), to: path)
    }

    /// Turns an encoder's `invalidImage` error into a file error naming the destination.
    static func encodeForFile(_ path: String, _ body: () throws -> [UInt8]) throws -> [UInt8] {
        do {
            return try body()
        } catch let PeaksError.invalidImage(reason) {
            throw PeaksError.file(path: path, reason: "cannot write: \(reason)")
        }
    }
}
