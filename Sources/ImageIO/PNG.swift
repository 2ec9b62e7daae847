import CPNG
import PeakKit

/// The raw contents of a decoded PNG: interleaved samples exactly as stored in the file (after
/// palette and low-bit-depth gray expansion), with no gamma, sRGB or colour-profile conversion.
///
/// - `channels`: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (palette files become 3 or 4).
/// - `bitDepth`: 8 or 16. 1/2/4-bit gray is expanded to 8 bits the way libpng does it
///   (1-bit 1 becomes 255, 4-bit 15 becomes 255); 8-bit samples are widened to `UInt16`.
/// - `samples`: `height` rows of `width * channels` samples, top row first; sample `c` of
///   pixel (x, y) is at `(y * width + x) * channels + c`.
public struct RasterPNG: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public let bitDepth: Int
    public let samples: [UInt16]

    /// Decoded images whose samples would need more bytes than this (before widening to
    /// `UInt16`) are refused with a clear error before any pixel memory is allocated: 4 GiB.
    public static let defaultMaxSampleBytes = 1 << 32

    /// `samples.count` must be `width * height * channels` and `channels` 1...4 (a programming
    /// error otherwise; decoded files are always consistent).
    public init(width: Int, height: Int, channels: Int, bitDepth: Int, samples: [UInt16]) {
        let (wh, o1) = width.multipliedReportingOverflow(by: height)
        let (n, o2) = wh.multipliedReportingOverflow(by: channels)
        precondition(width >= 0 && height >= 0 && (1...4).contains(channels) && !o1 && !o2 && samples.count == n,
                     "RasterPNG: \(samples.count) samples for \(width)x\(height)x\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.samples = samples
    }

    /// Decodes a PNG file held in memory. `path` is only used in error messages.
    ///
    /// Throws `PeaksError.file(path:reason:)` for anything that is not a complete, valid PNG
    /// (bad signature, truncated data, CRC errors, corrupt zlib data, oversized dimensions);
    /// libpng's own message is included in the reason.
    public static func decode(
        _ bytes: [UInt8], path: String, maxSampleBytes: Int = RasterPNG.defaultMaxSampleBytes
    ) throws -> RasterPNG {
        var image = cpng_image()
        var err = cpng_error()
        let limit = maxSampleBytes > 0 ? maxSampleBytes : 0
        let code = bytes.withUnsafeBufferPointer { p in
            cpng_decode(p.baseAddress, p.count, limit, &image, &err)
        }
        defer { cpng_image_free(&image) }
        guard code == Int32(CPNG_OK) else {
            var message = cpngMessage(&err)
            // libpng often warns with the precise cause just before a generic error
            // ("Image width is zero in IHDR", then "Invalid IHDR data").
            let warning = cpngWarning(&err)
            if !warning.isEmpty, warning != message { message += " (\(warning))" }
            switch Int(code) {
            case Int(CPNG_ERR_SIGNATURE): throw PeaksError.file(path: path, reason: "not a PNG file (bad signature)")
            case Int(CPNG_ERR_TOO_LARGE): throw PeaksError.file(path: path, reason: "invalid PNG: \(message)")
            case Int(CPNG_ERR_NO_MEMORY): throw PeaksError.file(path: path, reason: "cannot decode PNG: \(message)")
            default: throw PeaksError.file(path: path, reason: "invalid PNG: \(message)")
            }
        }
        let width = Int(image.width), height = Int(image.height)
        let channels = Int(image.channels), depth = Int(image.bit_depth)
        let count = image.sample_count
        guard let raw = image.samples, (depth == 8 || depth == 16), (1...4).contains(channels),
              count == width &* height &* channels
        else {
            throw PeaksError.file(path: path, reason: "invalid PNG: unexpected decoder output")
        }
        let samples = [UInt16](unsafeUninitializedCapacity: count) { out, initialized in
            if depth == 16 {
                let src = raw.assumingMemoryBound(to: UInt16.self)
                for i in 0..<count { out[i] = src[i] }
            } else {
                let src = raw.assumingMemoryBound(to: UInt8.self)
                for i in 0..<count { out[i] = UInt16(truncatingIfNeeded: src[i]) }
            }
            initialized = count
        }
        return RasterPNG(width: width, height: height, channels: channels, bitDepth: depth, samples: samples)
    }
}

/// Encodes interleaved samples as PNG bytes (write them with `AtomicFile.write`).
///
/// Output is deterministic (no time, text or gamma chunks). Throws
/// `PeaksError.invalidImage` for an empty image (PNG needs at least 1x1) and for a sample count
/// that does not match `width * height * channels`.
public enum PNGEncoder {
    /// 8-bit grayscale.
    public static func gray8(width: Int, height: Int, samples: [UInt8], interlaced: Bool = false) throws -> [UInt8] {
        try encode(width: width, height: height, channels: 1, samples: samples, interlaced: interlaced)
    }

    /// 16-bit grayscale: the values are stored exactly (no gamma chunk is written).
    public static func gray16(width: Int, height: Int, samples: [UInt16], interlaced: Bool = false) throws -> [UInt8] {
        try encode(width: width, height: height, channels: 1, samples: samples, interlaced: interlaced)
    }

    /// 8-bit gray + alpha, interleaved (g, a).
    public static func grayAlpha8(width: Int, height: Int, samples: [UInt8], interlaced: Bool = false) throws -> [UInt8] {
        try encode(width: width, height: height, channels: 2, samples: samples, interlaced: interlaced)
    }

    /// 8-bit RGB, interleaved (r, g, b).
    public static func rgb8(width: Int, height: Int, samples: [UInt8], interlaced: Bool = false) throws -> [UInt8] {
        try encode(width: width, height: height, channels: 3, samples: samples, interlaced: interlaced)
    }

    /// 8-bit RGBA, interleaved (r, g, b, a), alpha not premultiplied.
    public static func rgba8(width: Int, height: Int, samples: [UInt8], interlaced: Bool = false) throws -> [UInt8] {
        try encode(width: width, height: height, channels: 4, samples: samples, interlaced: interlaced)
    }

    /// Any supported layout: `channels` 1...4, samples of `UInt8` (8-bit) or `UInt16` (16-bit).
    public static func encode<Sample: FixedWidthInteger & UnsignedInteger>(
        width: Int, height: Int, channels: Int, samples: [Sample], interlaced: Bool = false
    ) throws -> [UInt8] {
        let depth = Sample.bitWidth
        guard depth == 8 || depth == 16 else {
            throw PeaksError.invalidImage(reason: "PNG samples must be UInt8 or UInt16")
        }
        guard (1...4).contains(channels) else {
            throw PeaksError.invalidImage(reason: "PNG needs 1 to 4 channels, not \(channels)")
        }
        guard width >= 1, height >= 1 else {
            throw PeaksError.invalidImage(reason: "cannot write an empty \(width)x\(height) image as PNG")
        }
        guard width <= 0x7fff_ffff, height <= 0x7fff_ffff else {
            throw PeaksError.invalidImage(reason: "\(width)x\(height) is too large for PNG")
        }
        let (wh, o1) = width.multipliedReportingOverflow(by: height)
        let (expected, o2) = wh.multipliedReportingOverflow(by: channels)
        guard !o1, !o2, samples.count == expected else {
            throw PeaksError.invalidImage(
                reason: "\(samples.count) samples do not fill a \(width)x\(height) image with \(channels) channel(s)")
        }
        var buffer = cpng_buffer()
        var err = cpng_error()
        defer { cpng_buffer_free(&buffer) }
        let code = samples.withUnsafeBufferPointer { p -> Int32 in
            var params = cpng_encode_params(
                width: UInt32(width), height: UInt32(height), channels: Int32(channels),
                bit_depth: Int32(depth), interlaced: interlaced ? 1 : 0,
                samples: UnsafeRawPointer(p.baseAddress))
            return cpng_encode(&params, &buffer, &err)
        }
        guard code == Int32(CPNG_OK), let data = buffer.data else {
            throw PeaksError.invalidImage(reason: "cannot encode PNG: \(cpngMessage(&err))")
        }
        return Array(UnsafeBufferPointer(start: data, count: buffer.size))
    }
}

/// The first libpng warning recorded in a `cpng_error` ("" when none).
func cpngWarning(_ err: inout cpng_error) -> String {
    withUnsafeBytes(of: &err.warning) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
}

/// The NUL-terminated message of a `cpng_error`, as a one-line String.
func cpngMessage(_ err: inout cpng_error) -> String {
    let text = withUnsafeBytes(of: &err.message) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
    return text.isEmpty ? "unknown error" : text
}

/// A PNG file as a one-frame source: decoded whole (PNG has no random access), after its IHDR
/// dimensions have been checked against `ReadLimits` (a 400 KB file may declare 20000 × 20000).
final class PNGFrame: FrameSource {
    let path: String
    let formatName = "PNG"
    let raster: RasterPNG
    let layout: FrameLayout

    init(file: InputFile) throws {
        let head = try file.head(33)
        // IHDR: signature (8), length (4), "IHDR" (4), width (4, big-endian), height (4).
        if head.count >= 24, Array(head[12..<16]) == Array("IHDR".utf8) {
            let w = head[16..<20].reduce(0) { $0 << 8 | Int($1) }
            let h = head[20..<24].reduce(0) { $0 << 8 | Int($1) }
            try ReadLimits.checkFrame(width: w, height: h, path: file.path)
        }
        path = file.path
        raster = try RasterPNG.decode(try file.all(limit: ReadLimits.maxFrameBytes), path: file.path, maxSampleBytes: ReadLimits.maxFrameBytes)
        let type = (raster.channels >= 3 ? "rgb" : "gray") + "\(raster.bitDepth)"
        layout = FrameLayout(width: raster.width, height: raster.height, frameCount: 1, sampleType: type)
    }

    func readFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try checkFrameIndex(index)
        ImageFile.convert(raster, into: buffer)
    }

    func readMaskFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Bool>) throws {
        try checkFrameIndex(index)
        ImageFile.convertMask(raster, into: buffer)
    }
}

extension ImageFormat {
    /// PNG through libpng: 8/16-bit grey, grey+alpha, RGB(A), palette; colour becomes luminance.
    public static let png = ImageFormat(
        name: "PNG",
        summary: "8/16-bit grey, grey+alpha, RGB, RGBA, palette (colour -> luminance 0.299 R + 0.587 G + 0.114 B); 16-bit values exact whatever the gamma chunks say",
        extensions: ["png"], readsStacks: false, writes: "uint16, uint8",
        recognize: { head, _ in head.starts(with: ImageFile.pngSignature) ? .strong : .no },
        open: { file, _ in try PNGFrame(file: file) },
        encode: { try ImageEncoding.png16($0) })
}
