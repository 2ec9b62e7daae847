import Foundation
@testable import ImageIO
import PeakKit
import Testing

@Suite("TIFF")
struct TIFFTests {
    static let singles = [
        "uint16.tif", "float32_deflate.tif", "float32_deflate_fpred.tif", "uint16_lzw_tiled_pred.tif",
        "uint16_bigtiff_deflate.tif", "uint16_packbits.tif", "uint16_zstd.tif", "int32_bigendian_lzw.tif",
        "float64_deflate_strips.tif",
    ]

    @Test(arguments: singles)
    func singleImagesGiveTheReferencePixels(name: String) throws {
        let source = try ImageFormat.open(Fixture.path("tiff/" + name))
        #expect(source.formatName == "TIFF")
        #expect(source.layout == FrameLayout(width: 256, height: 256, frameCount: 1, sampleType: source.layout.sampleType))
        #expect(try source.frame(0).pixels == Fixture.image)
    }

    @Test func sampleTypesAndMetadata() throws {
        #expect(try ImageFormat.open(Fixture.path("tiff/uint16.tif")).layout.sampleType == "uint16")
        #expect(try ImageFormat.open(Fixture.path("tiff/int32_bigendian_lzw.tif")).layout.sampleType == "int32")
        #expect(try ImageFormat.open(Fixture.path("tiff/float64_deflate_strips.tif")).layout.sampleType == "float64")
        let big = try ImageFormat.open(Fixture.path("tiff/uint16_bigtiff_deflate.tif"))
        #expect(big.metadata.contains { $0.0 == "bigtiff" && $0.1 == .bool(true) })
        #expect(big.metadata.contains { $0.0 == "compression" && $0.1 == .string("deflate") })
    }

    @Test(arguments: ["stack6.tif", "stack6_imagej.tif", "stack6.ome.tif"])
    func stacksFrameByFrame(name: String) throws {
        let source = try ImageFormat.open(Fixture.path("tiff/" + name))
        #expect(source.layout.frameCount == 6 && source.layout.width == 64 && source.layout.height == 64)
        #expect(source.layout.scan == nil)
        for i in [3, 0, 5, 1, 2, 4] {
            #expect(try source.frame(i).pixels == Fixture.stack[i], "\(name) frame \(i)")
        }
        expectFileError(contains: "frame 6 does not exist") { _ = try source.frame(6) }
    }

    @Test func imageJMetadata() throws {
        let source = try ImageFormat.open(Fixture.path("tiff/stack6_imagej.tif"))
        #expect(source.metadata.contains { $0.0 == "imagej_images" && $0.1 == .integer(6) })
        #expect(source.metadata.contains { $0.0 == "imagej_frames" && $0.1 == .integer(2) })
    }

    /// ImageJ's layout for files over 4 GiB: one IFD, the frames back to back after it.
    @Test func imageJContiguousFramesBehindOneIFD() throws {
        let stack = Fixture.stack.map { $0.map { UInt16($0) } }
        // Classic little-endian TIFF, one IFD, one strip holding frame 0, then frames 1-5.
        let desc = Array("ImageJ=1.11a\nimages=6\nslices=6\n\0".utf8)
        var entries: [(UInt16, UInt16, UInt32, UInt32)] = []
        let ifdOffset = 8, nEntries = 9
        let descOffset = ifdOffset + 2 + nEntries * 12 + 4
        let dataOffset = descOffset + desc.count
        entries.append((256, 4, 1, 64)); entries.append((257, 4, 1, 64)); entries.append((258, 3, 1, 16))
        entries.append((259, 3, 1, 1)); entries.append((262, 3, 1, 1))
        entries.append((270, 2, UInt32(desc.count), UInt32(descOffset)))
        entries.append((273, 4, 1, UInt32(dataOffset))); entries.append((278, 4, 1, 64))
        entries.append((279, 4, 1, 64 * 64 * 2))
        var file: [UInt8] = [0x49, 0x49, 0x2A, 0] + bytesOf(UInt32(ifdOffset), bigEndian: false)
        file += bytesOf(UInt16(nEntries), bigEndian: false)
        for (tag, type, count, value) in entries {
            file += bytesOf(tag, bigEndian: false) + bytesOf(type, bigEndian: false) + bytesOf(count, bigEndian: false)
            file += type == 3 && count == 1 ? bytesOf(UInt16(value), bigEndian: false) + [0, 0] : bytesOf(value, bigEndian: false)
        }
        file += [0, 0, 0, 0] + desc
        for frame in stack { for v in frame { file += bytesOf(v, bigEndian: false) } }
        let source = try ImageFormat.tiff.open(try InputFile(bytes: file, name: "ij.tif"), .init())
        #expect(source.layout.frameCount == 6)
        for i in 0..<6 { #expect(try source.frame(i).pixels == Fixture.stack[i]) }
        // One frame short: refused before reading.
        expectFileError(contains: "truncated") {
            _ = try ImageFormat.tiff.open(try InputFile(bytes: Array(file.dropLast(2)), name: "ij.tif"), .init())
        }
    }

    /// Many interleaved samples a pixel (a multispectral page): sample 0 is the frame. The row is
    /// decoded a run of pixels at a time (16384 samples), so 300 samples a pixel and 100 pixels a
    /// row cross two run boundaries; a forged 65535-sample page no longer needs a row of floats
    /// larger than its block (FuzzTIFF found a 268 MB allocation from a 537-byte file).
    @Test func manySamplesPerPixelKeepSampleZero() throws {
        let width = 100, height = 3, spp = 300
        let ifdOffset = 8, nEntries = 9
        let dataOffset = ifdOffset + 2 + nEntries * 12 + 4
        let entries: [(UInt16, UInt16, UInt32, UInt32)] = [
            (256, 4, 1, UInt32(width)), (257, 4, 1, UInt32(height)), (258, 3, 1, 16), (259, 3, 1, 1),
            (262, 3, 1, 1), (273, 4, 1, UInt32(dataOffset)), (277, 3, 1, UInt32(spp)),
            (278, 4, 1, UInt32(height)), (279, 4, 1, UInt32(width * height * spp * 2)),
        ]
        var file: [UInt8] = [0x49, 0x49, 0x2A, 0] + bytesOf(UInt32(ifdOffset), bigEndian: false)
        file += bytesOf(UInt16(nEntries), bigEndian: false)
        for (tag, type, count, value) in entries {
            file += bytesOf(tag, bigEndian: false) + bytesOf(type, bigEndian: false) + bytesOf(count, bigEndian: false)
            file += type == 3 ? bytesOf(UInt16(value), bigEndian: false) + [0, 0] : bytesOf(value, bigEndian: false)
        }
        file += [0, 0, 0, 0]
        var expected: [Float] = []
        for y in 0..<height {
            for x in 0..<width {
                let v = UInt16(7 * x + 1000 * y)
                expected.append(Float(v))
                file += bytesOf(v, bigEndian: false)
                for k in 1..<spp { file += bytesOf(UInt16(50000 + k), bigEndian: false) }
            }
        }
        let source = try ImageFormat.tiff.open(try InputFile(bytes: file, name: "spp300.tif"), .init())
        #expect(source.layout.width == width && source.layout.height == height)
        #expect(try source.frame(0).pixels == expected)
    }

    @Test(arguments: ["rgb8.tif", "rgb8_planar.tif"])
    func rgbBecomesLuminance(name: String) throws {
        let source = try ImageFormat.open(Fixture.path("tiff/" + name))
        #expect(source.layout.sampleType == "rgb-uint8")
        let expected = Fixture.image.map { v -> Float in
            let u = UInt16(v)
            let r = Double(u >> 8), g = Double((u >> 4) & 0xFF), b = Double(u & 0xFF)
            return Float(0.299 * r + 0.587 * g + 0.114 * b)
        }
        #expect(try source.frame(0).pixels == expected)
    }

    @Test func pagesOfAnotherShapeEndTheStack() throws {
        let source = try ImageFormat.open(Fixture.path("tiff/mixed_shapes.tif"))
        #expect(source.layout.frameCount == 2 && source.layout.width == 64)
        #expect(try source.frame(1).pixels == Fixture.stack[1])
    }

    @Test func concurrentReadsAgree() throws {
        let source = try ImageFormat.open(Fixture.path("tiff/stack6.tif"))
        let results = Mutex2<[Int: [Float]]>([:])
        DispatchQueue.concurrentPerform(iterations: 24) { k in
            let i = k % 6
            if let p = try? source.frame(i).pixels { results.update { $0[k] = p } }
        }
        let got = results.value
        #expect(got.count == 24)
        for (k, p) in got { #expect(p == Fixture.stack[k % 6]) }
    }

    // MARK: Writing

    @Test func float32RoundTrip() throws {
        var pixels = Fixture.image.map { $0 * 0.37 - 1000.125 }
        pixels[5] = .nan
        pixels[6] = -.infinity
        pixels[7] = 1e-38
        let image = Image(width: 256, height: 256, pixels: pixels)
        let encode = try #require(ImageFormat.tiff.encode)
        let bytes = try encode(image)
        #expect(TIFF.recognize(bytes) == .strong)
        let source = try ImageFormat.tiff.open(try InputFile(bytes: bytes, name: "w.tif"), .init())
        #expect(source.layout.sampleType == "float32")
        #expect(samePixels(try source.frame(0).pixels, pixels))
        // Also through a file on disk and format detection.
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let p = try dir.write(bytes, "w.tif")
        #expect(samePixels(try ImageFormat.open(p).frame(0).pixels, pixels))
    }

    @Test func uint16RoundTrip() throws {
        let image = Image(width: 256, height: 256, pixels: Fixture.image)
        let bytes = try TIFF.encodeUInt16(image)
        let source = try ImageFormat.tiff.open(try InputFile(bytes: bytes, name: "w.tif"), .init())
        #expect(source.layout.sampleType == "uint16")
        #expect(try source.frame(0).pixels == Fixture.image)
        // Odd shapes (a partial last strip) and the documented quantisation.
        let odd = Image(width: 3, height: 67, pixels: (0..<201).map { Float($0) * 400 - 0.5 })
        let back = try ImageFormat.tiff.open(try InputFile(bytes: try TIFF.encodeUInt16(odd), name: "o.tif"), .init()).frame(0)
        #expect(back.width == 3 && back.height == 67)
        #expect(back.pixels == odd.pixels.map { Float(min(max(Double($0), 0), 65535).rounded(.toNearestOrAwayFromZero)) })
        #expect(throws: PeaksError.self) { _ = try TIFF.encodeUInt16(Image(width: 0, height: 0, pixels: [])) }
    }

    // MARK: Bad files

    @Test func truncatedFilesFailWithOneLine() throws {
        // Every 37th length of two files; the first and last 2 KiB (headers, IFDs) of others.
        for name in ["uint16_lzw_tiled_pred.tif", "stack6.tif", "uint16_bigtiff_deflate.tif", "rgb8_planar.tif", "float64_deflate_strips.tif"] {
            let bytes = try Fixture.bytes("tiff/" + name)
            let every = name == "uint16_lzw_tiled_pred.tif" || name == "stack6.tif"
            for length in stride(from: 1, to: bytes.count, by: 37) where every || length < 2048 || length > bytes.count - 2048 {
                expectNoCrash("\(name) cut at \(length)") {
                    try openAndReadAll(Array(bytes.prefix(length)), format: .tiff, name: name)
                }
            }
        }
        // Cut in the pixel data of an uncompressed file: an error naming the file, one line.
        let bytes = try Fixture.bytes("tiff/uint16.tif")
        expectFileError(path: "cut.tif", contains: "cannot read page 0") {
            try openAndReadAll(Array(bytes.prefix(bytes.count / 2)), format: .tiff, name: "cut.tif")
        }
    }

    @Test func corruptBytesNeverCrash() throws {
        var rng = SplitMix(state: 11)
        for name in ["uint16_lzw_tiled_pred.tif", "float32_deflate.tif", "uint16_zstd.tif", "stack6_imagej.tif"] {
            let original = try Fixture.bytes("tiff/" + name)
            for _ in 0..<60 {
                var bytes = original
                for _ in 0..<(1 + rng.below(8)) {
                    // Mostly the header and IFDs (first and last 512 bytes), sometimes the data.
                    let i = rng.below(4) == 0 ? rng.below(bytes.count)
                        : (rng.below(2) == 0 ? rng.below(min(512, bytes.count)) : bytes.count - 1 - rng.below(min(512, bytes.count)))
                    bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                }
                expectNoCrash(name) { try openAndReadAll(bytes, format: .tiff, name: name) }
            }
        }
    }

    /// Patches the first IFD's entry for `tag` (classic little-endian TIFF, SHORT value).
    func patch(_ bytes: [UInt8], tag: UInt16, value: UInt16) -> [UInt8] {
        var b = bytes
        let ifd = Int(b[4]) | Int(b[5]) << 8 | Int(b[6]) << 16 | Int(b[7]) << 24
        let n = Int(b[ifd]) | Int(b[ifd + 1]) << 8
        for k in 0..<n {
            let e = ifd + 2 + 12 * k
            if UInt16(b[e]) | UInt16(b[e + 1]) << 8 == tag {
                b[e + 8] = UInt8(value & 0xFF)
                b[e + 9] = UInt8(value >> 8)
            }
        }
        return b
    }

    @Test func unsupportedSubFormats() throws {
        let bytes = try Fixture.bytes("tiff/uint16.tif")
        // JPEG 2000 (34712): no libtiff codec.
        expectFileError(contains: "compression 34712 (JPEG 2000) is not available") {
            try openAndReadAll(patch(bytes, tag: 259, value: 34712), format: .tiff, name: "j2k.tif")
        }
        // Complex samples.
        expectFileError(contains: "complex samples") {
            _ = try ImageFormat.open(Fixture.path("tiff/complex64.tif"))
        }
        // Not TIFF at all (but handed to the TIFF reader).
        expectFileError(contains: "invalid TIFF") {
            try openAndReadAll(Array("II*\0 not really a tiff".utf8), format: .tiff, name: "x.tif")
        }
    }

    @Test func recognition() {
        #expect(TIFF.recognize([0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0]) == .strong)
        #expect(TIFF.recognize([0x4D, 0x4D, 0x00, 0x2A]) == .strong)
        #expect(TIFF.recognize([0x49, 0x49, 0x2B, 0x00]) == .strong)
        #expect(TIFF.recognize([0x49, 0x49, 0x2A]) == .no)
        #expect(TIFF.recognize(Array("SIMPLE  =".utf8)) == .no)
    }
}

/// A value shared between threads of a test.
final class Mutex2<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ v: Value) { stored = v }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    func update(_ f: (inout Value) -> Void) { lock.lock(); f(&stored); lock.unlock() }
}
