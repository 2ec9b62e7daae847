#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit

/// `read(2)`, named so that it does not collide with `ImageFile.read`.
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// Reading and writing single images and masks, through the format registry
/// (`ImageFormat.registry`): the format is chosen by the file's first bytes, never by its
/// extension. Stacks are read frame by frame through `ImageFormat.open` instead.
///
/// Every failure is a one-line `PeaksError` naming the file.
public enum ImageFile {
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The name of the format that recognises these bytes (strongly), or nil.
    public static func formatName(of bytes: [UInt8]) -> String? {
        ImageFormat.registry.first { $0.recognize(bytes, bytes.count) == .strong }?.name
    }

    // MARK: Reading

    /// Reads a single image. PNG: gray -> the raw value (0...255 or 0...65535, not normalised);
    /// gray+alpha -> the gray value (alpha ignored); RGB/RGBA/palette -> luminance
    /// `0.299 R + 0.587 G + 0.114 B` computed in Double then rounded to Float (alpha ignored).
    /// NPY and the other formats: see their readers.
    ///
    /// - Parameters:
    ///   - path: The file.
    ///   - options: `--dataset`, `--hdu`.
    /// - Throws: `PeaksError.file` for unreadable files, and for stacks (read those with
    ///   `ImageFormat.open`).
    public static func read(_ path: String, options: OpenOptions = .init()) throws -> Image {
        let source = try ImageFormat.open(path, options: options)
        try requireSingle(source)
        return try source.frame(0)
    }

    static func requireSingle(_ source: any FrameSource) throws {
        guard source.layout.frameCount == 1 else {
            throw PeaksError.file(
                path: source.path,
                reason: "is a stack of \(source.layout.frameCount) frames, this takes one image (select one with --frames N)")
        }
    }

    /// Reads a mask for `image`: non-zero = valid. PNG gray and gray+alpha: the gray sample is
    /// non-zero (alpha ignored); RGB/RGBA/palette: luminance != 0, i.e. any of R, G, B non-zero
    /// (alpha ignored). NPY and others: non-zero = valid, zero and NaN = invalid.
    /// Throws `PeaksError.shapeMismatch(what: "mask 'PATH'", ...)` when the shapes differ.
    public static func readMask(_ path: String, for image: Image) throws -> Mask {
        let mask = try readMask(path)
        try mask.checkShape(matches: image, what: "mask '\(path)'")
        return mask
    }

    /// Reads a mask without checking it against an image.
    public static func readMask(_ path: String, options: OpenOptions = .init()) throws -> Mask {
        let source = try ImageFormat.open(path, options: options)
        try requireSingle(source)
        return try source.maskFrame(0)
    }

    /// Decodes a single image already in memory, through the format registry like `read` (any
    /// format whose reader accepts an in-memory file).
    public static func decode(_ bytes: [UInt8], path: String, options: OpenOptions = .init()) throws -> Image {
        let file = try InputFile(bytes: bytes, name: path)
        let source = try ImageFormat.detect(file).open(file, options)
        try requireSingle(source)
        return try source.frame(0)
    }

    /// Reads a whole regular file (refusing FIFOs, devices and files over the read limit).
    public static func readBytes(_ path: String) throws -> [UInt8] {
        try InputFile(path).all(limit: max(ReadLimits.maxFrameBytes, 1 << 30))
    }

    // MARK: PNG conversions

    /// PNG samples to a Float image (see `read`).
    public static func image(from png: RasterPNG) -> Image {
        let n = png.width &* png.height
        let pixels = [Float](unsafeUninitializedCapacity: n) { out, initialized in
            convert(png, into: out)
            initialized = n
        }
        return Image(width: png.width, height: png.height, pixels: pixels)
    }

    /// PNG samples to Floats in `out` (`width * height` elements).
    static func convert(_ png: RasterPNG, into out: UnsafeMutableBufferPointer<Float>) {
        let n = png.width &* png.height
        let ch = png.channels
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
    }

    /// PNG samples to a mask (see `readMask`).
    public static func mask(from png: RasterPNG) -> Mask {
        var valid = [Bool](repeating: false, count: png.width &* png.height)
        valid.withUnsafeMutableBufferPointer { convertMask(png, into: $0) }
        return Mask(width: png.width, height: png.height, isValid: valid)
    }

    /// PNG samples to validity flags in `out`.
    static func convertMask(_ png: RasterPNG, into out: UnsafeMutableBufferPointer<Bool>) {
        let n = png.width &* png.height
        let ch = png.channels
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
