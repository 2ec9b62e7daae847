import Foundation
import PeakKit
import Testing

// MARK: - Files

/// A fresh temporary folder; removed by `cleanUp()`.
struct TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("peaks-imageio-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let p = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }
    func cleanUp() { try? FileManager.default.removeItem(at: url) }
}

// MARK: - Error expectations

/// Expects `body` to throw `PeaksError.file` for `path` (when given) whose reason contains `text`.
func expectFileError(
    path: String? = nil, contains text: String,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected a PeaksError.file containing '\(text)', nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as PeaksError {
        guard case let .file(p, reason) = error else {
            Issue.record("expected PeaksError.file, got \(error)", sourceLocation: sourceLocation)
            return
        }
        if let path { #expect(p == path, sourceLocation: sourceLocation) }
        #expect(reason.contains(text), "reason was: \(reason)", sourceLocation: sourceLocation)
        #expect(!error.description.contains("\n"), "error is not one line", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected PeaksError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
}

/// Runs `body`, which may succeed or throw a PeaksError, but must not throw anything else.
func expectNoCrash(_ label: String, _ body: () throws -> Void) {
    do { try body() } catch is PeaksError {} catch {
        Issue.record("\(label): unexpected error type \(type(of: error)): \(error)")
    }
}

/// Deterministic pseudo-random numbers (SplitMix64) for fuzz-style tests.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

// MARK: - Hand-built PNG files (independent of libpng's encoder)

/// CRC-32 (ISO-HDLC / PNG), bit by bit.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

/// One PNG chunk: length, type, data, CRC over type + data.
func pngChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let typeBytes = Array(type.utf8)
    return be32(UInt32(data.count)) + typeBytes + data + be32(crc32(typeBytes + data))
}

/// A zlib stream with "stored" (uncompressed) deflate blocks.
func zlibStored(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x78, 0x01]
    var i = 0
    repeat {
        let n = min(65535, data.count - i)
        let final: UInt8 = i + n == data.count ? 1 : 0
        out += [final, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
        out += data[i..<(i + n)]
        i += n
    } while i < data.count
    var a: UInt32 = 1, b: UInt32 = 0
    for x in data { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
    return out + be32(b << 16 | a)
}

let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

/// A complete PNG from raw scanlines (each already prefixed with its filter byte).
func handBuiltPNG(
    width: UInt32, height: UInt32, bitDepth: UInt8, colorType: UInt8,
    scanlines: [UInt8], before: [[UInt8]] = []
) -> [UInt8] {
    let ihdr = be32(width) + be32(height) + [bitDepth, colorType, 0, 0, 0]
    var png = pngSignature + pngChunk("IHDR", ihdr)
    for chunk in before { png += chunk }
    png += pngChunk("IDAT", zlibStored(scanlines))
    png += pngChunk("IEND", [])
    return png
}

/// Inserts chunks right after IHDR (signature 8 bytes + IHDR chunk 25 bytes).
func spliceAfterIHDR(_ png: [UInt8], _ chunks: [[UInt8]]) -> [UInt8] {
    Array(png[0..<33]) + chunks.flatMap { $0 } + Array(png[33...])
}

/// Offsets of the chunks of a PNG: (type, offset of the length field, data length).
func pngChunks(_ png: [UInt8]) -> [(type: String, offset: Int, length: Int)] {
    var out: [(String, Int, Int)] = []
    var i = 8
    while i + 8 <= png.count {
        let len = Int(png[i]) << 24 | Int(png[i + 1]) << 16 | Int(png[i + 2]) << 8 | Int(png[i + 3])
        out.append((String(decoding: png[(i + 4)..<(i + 8)], as: UTF8.self), i, len))
        i += 12 + len
    }
    return out
}

// MARK: - Hand-built NPY files (independent of NPY.encode*)

/// Magic + version + header length + the dict text exactly as given (no padding added unless
/// `pad`), then `data`.
func handBuiltNPY(_ dict: String, data: [UInt8], major: UInt8 = 1, pad: Bool = true) -> [UInt8] {
    var header = Array(dict.utf8)
    let prefix = major == 1 ? 10 : 12
    if pad {
        while (prefix + header.count + 1) % 64 != 0 { header.append(0x20) }
        header.append(0x0A)
    }
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
    let n = header.count
    if major == 1 {
        out += [UInt8(n & 0xFF), UInt8(n >> 8)]
    } else {
        out += [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(n >> 24)]
    }
    return out + header + data
}

/// The bytes of a fixed-width integer in the given byte order.
func bytesOf<T: FixedWidthInteger>(_ v: T, bigEndian: Bool) -> [UInt8] {
    let n = T.bitWidth / 8
    var out: [UInt8] = []
    for i in 0..<n {
        let shift = bigEndian ? (n - 1 - i) * 8 : i * 8
        out.append(UInt8(truncatingIfNeeded: v >> shift))
    }
    return out
}
