import Foundation
import ImageIO
import PeakKit
import Testing

@Suite("PNG")
struct PNGTests {
    // MARK: Round trips

    @Test func gray8RoundTrip() throws {
        let w = 5, h = 3
        let samples: [UInt8] = (0..<(w * h)).map { UInt8(($0 * 17) % 256) }
        let png = try PNGEncoder.gray8(width: w, height: h, samples: samples)
        #expect(Array(png.prefix(8)) == pngSignature)
        let r = try RasterPNG.decode(png, path: "g8.png")
        #expect(r.width == w && r.height == h && r.channels == 1 && r.bitDepth == 8)
        #expect(r.samples == samples.map { UInt16($0) })
        let image = try ImageFile.decode(png, path: "g8.png")
        #expect(image.width == w && image.height == h)
        #expect(image.pixels == samples.map { Float($0) })  // raw values, not normalised
        #expect(image[4, 0] == Float((4 * 17) % 256))
        #expect(image[0, 2] == Float((10 * 17) % 256))
    }

    @Test func gray16RoundTripIsExact() throws {
        let w = 4, h = 3
        let samples: [UInt16] = [0, 1, 2, 255, 256, 1000, 4095, 4096, 12345, 32768, 65534, 65535]
        let png = try PNGEncoder.gray16(width: w, height: h, samples: samples)
        let r = try RasterPNG.decode(png, path: "g16.png")
        #expect(r.channels == 1 && r.bitDepth == 16)
        #expect(r.samples == samples)
        let image = try ImageFile.decode(png, path: "g16.png")
        #expect(image.pixels == samples.map { Float($0) })
        #expect(image[1, 1] == 1000)
    }

    @Test func rgb8RoundTripAndLuminance() throws {
        // Pixels: red, green, blue, white, black, (10, 20, 30).
        let samples: [UInt8] = [255, 0, 0,  0, 255, 0,  0, 0, 255,  255, 255, 255,  0, 0, 0,  10, 20, 30]
        let png = try PNGEncoder.rgb8(width: 3, height: 2, samples: samples)
        let r = try RasterPNG.decode(png, path: "rgb.png")
        #expect(r.width == 3 && r.height == 2 && r.channels == 3 && r.bitDepth == 8)
        #expect(r.samples == samples.map { UInt16($0) })
        let image = try ImageFile.decode(png, path: "rgb.png")
        // By hand: 0.299*255 = 76.245; 0.587*255 = 149.685; 0.114*255 = 29.07;
        // 0.299*10 + 0.587*20 + 0.114*30 = 2.99 + 11.74 + 3.42 = 18.15.
        let expected: [Float] = [76.245, 149.685, 29.07, 255, 0, 18.15]
        for (got, want) in zip(image.pixels, expected) {
            #expect(abs(got - want) <= 1e-4, "\(got) vs \(want)")
        }
        #expect(image[0, 1] == 255)  // white is exactly 255
        #expect(image[1, 1] == 0)
    }

    @Test func rgba8IgnoresAlphaForLuminance() throws {
        let samples: [UInt8] = [100, 100, 100, 0,   10, 20, 30, 255,   0, 0, 200, 7]
        let png = try PNGEncoder.rgba8(width: 3, height: 1, samples: samples)
        let r = try RasterPNG.decode(png, path: "rgba.png")
        #expect(r.channels == 4 && r.bitDepth == 8)
        #expect(r.samples == samples.map { UInt16($0) })
        let image = try ImageFile.decode(png, path: "rgba.png")
        #expect(image.pixels[0] == 100)
        #expect(abs(image.pixels[1] - 18.15) <= 1e-4)
        #expect(abs(image.pixels[2] - 22.8) <= 1e-4)  // 0.114 * 200
    }

    @Test func grayAlphaUsesGray() throws {
        let samples: [UInt8] = [7, 0,  200, 255,  0, 128]
        let png = try PNGEncoder.grayAlpha8(width: 3, height: 1, samples: samples)
        let r = try RasterPNG.decode(png, path: "ga.png")
        #expect(r.channels == 2)
        let image = try ImageFile.decode(png, path: "ga.png")
        #expect(image.pixels == [7, 200, 0])
    }

    @Test func encoderIsDeterministicWithoutTimeChunk() throws {
        let samples: [UInt16] = (0..<64).map { UInt16($0 * 1000) }
        let a = try PNGEncoder.gray16(width: 8, height: 8, samples: samples)
        let b = try PNGEncoder.gray16(width: 8, height: 8, samples: samples)
        #expect(a == b)
        let types = pngChunks(a).map(\.type)
        #expect(!types.contains("tIME") && !types.contains("gAMA") && !types.contains("tEXt"))
        #expect(types.first == "IHDR" && types.last == "IEND")
    }

    @Test func encoderRejectsBadInput() {
        #expect(throws: PeaksError.self) { try PNGEncoder.gray8(width: 0, height: 3, samples: []) }
        #expect(throws: PeaksError.self) { try PNGEncoder.gray8(width: 2, height: 2, samples: [1, 2, 3]) }
        #expect(throws: PeaksError.self) { try PNGEncoder.rgb8(width: 2, height: 1, samples: [1, 2, 3]) }
    }

    // MARK: Interlacing

    @Test(arguments: [false, true])
    func interlacedRoundTrip(interlaced: Bool) throws {
        let w = 11, h = 7
        let gray: [UInt16] = (0..<(w * h)).map { UInt16($0 * 811 % 65536) }
        let png16 = try PNGEncoder.gray16(width: w, height: h, samples: gray, interlaced: interlaced)
        #expect(png16[28] == (interlaced ? 1 : 0))  // IHDR interlace method
        #expect(try RasterPNG.decode(png16, path: "i.png").samples == gray)

        let rgb: [UInt8] = (0..<(w * h * 3)).map { UInt8($0 * 7 % 256) }
        let pngRGB = try PNGEncoder.rgb8(width: w, height: h, samples: rgb, interlaced: interlaced)
        #expect(pngRGB[28] == (interlaced ? 1 : 0))
        #expect(try RasterPNG.decode(pngRGB, path: "i.png").samples == rgb.map { UInt16($0) })
    }

    // MARK: Hand-built files (independent of libpng's writer)

    @Test func handBuilt16BitIsBigEndianInFileAndExact() throws {
        // 3x1 gray 16: 1000 = 0x03E8, 65535, 258 = 0x0102.
        let png = handBuiltPNG(width: 3, height: 1, bitDepth: 16, colorType: 0,
                               scanlines: [0, 0x03, 0xE8, 0xFF, 0xFF, 0x01, 0x02])
        let r = try RasterPNG.decode(png, path: "hb16.png")
        #expect(r.bitDepth == 16 && r.samples == [1000, 65535, 258])
    }

    @Test func sixteenBitIsExactWithGammaChunk() throws {
        let samples: [UInt16] = [1000, 0, 65535, 30000]
        let plain = try PNGEncoder.gray16(width: 2, height: 2, samples: samples)
        // The test CRC agrees with libpng's on the IHDR chunk.
        #expect(Array(plain[29..<33]) == be32(crc32(Array(plain[12..<29]))))
        // gAMA 1/2.2 (45455): the simplified libpng API would turn 1000 into 7.
        let withGamma = spliceAfterIHDR(plain, [pngChunk("gAMA", be32(45455))])
        #expect(pngChunks(withGamma).map(\.type).contains("gAMA"))
        let r = try RasterPNG.decode(withGamma, path: "gamma.png")
        #expect(r.samples == samples)
        #expect(try ImageFile.decode(withGamma, path: "gamma.png")[0, 0] == 1000)
        // gAMA 1.0 with an sRGB chunk (inconsistent: libpng warns) still reads raw values.
        let withSRGB = spliceAfterIHDR(plain, [pngChunk("gAMA", be32(100000)), pngChunk("sRGB", [0])])
        #expect(try RasterPNG.decode(withSRGB, path: "srgb.png").samples == samples)
    }

    @Test func eightBitIsExactWithGammaChunk() throws {
        let plain = try PNGEncoder.gray8(width: 2, height: 1, samples: [10, 200])
        let png = spliceAfterIHDR(plain, [pngChunk("gAMA", be32(45455)), pngChunk("sRGB", [0])])
        #expect(try RasterPNG.decode(png, path: "g.png").samples == [10, 200])
    }

    @Test func palettePNGBecomesRGB() throws {
        let plte: [UInt8] = [255, 0, 0,  0, 255, 0,  0, 0, 255,  10, 20, 30]
        let png = handBuiltPNG(width: 3, height: 2, bitDepth: 8, colorType: 3,
                               scanlines: [0, 0, 1, 2,  0, 3, 0, 1],
                               before: [pngChunk("PLTE", plte)])
        let r = try RasterPNG.decode(png, path: "pal.png")
        #expect(r.channels == 3 && r.bitDepth == 8)
        #expect(r.samples == [255, 0, 0,  0, 255, 0,  0, 0, 255,  10, 20, 30,  255, 0, 0,  0, 255, 0])
        let image = try ImageFile.decode(png, path: "pal.png")
        #expect(abs(image[0, 1] - 18.15) <= 1e-4)
        #expect(abs(image[1, 0] - 149.685) <= 1e-4)
    }

    @Test func palettePNGWithTransparencyBecomesRGBA() throws {
        let plte: [UInt8] = [255, 0, 0,  0, 255, 0,  0, 0, 255]
        let png = handBuiltPNG(width: 3, height: 1, bitDepth: 8, colorType: 3,
                               scanlines: [0, 0, 1, 2],
                               before: [pngChunk("PLTE", plte), pngChunk("tRNS", [0, 128])])
        let r = try RasterPNG.decode(png, path: "palt.png")
        #expect(r.channels == 4)
        #expect(r.samples == [255, 0, 0, 0,  0, 255, 0, 128,  0, 0, 255, 255])
    }

    @Test func twoBitPalette() throws {
        // Indices 0, 1, 2 packed MSB first in one byte: 00 01 10 00 = 0x18.
        let plte: [UInt8] = [1, 2, 3,  4, 5, 6,  7, 8, 9]
        let png = handBuiltPNG(width: 3, height: 1, bitDepth: 2, colorType: 3,
                               scanlines: [0, 0x18], before: [pngChunk("PLTE", plte)])
        #expect(try RasterPNG.decode(png, path: "p2.png").samples == [1, 2, 3, 4, 5, 6, 7, 8, 9])
    }

    @Test func oneBitGrayExpandsTo0And255() throws {
        // 10x2: row 0 = 1010101010, row 1 = 1111100000.
        let png = handBuiltPNG(width: 10, height: 2, bitDepth: 1, colorType: 0,
                               scanlines: [0, 0xAA, 0x80,  0, 0xF8, 0x00])
        let r = try RasterPNG.decode(png, path: "bits.png")
        #expect(r.channels == 1 && r.bitDepth == 8 && r.width == 10 && r.height == 2)
        let row0: [UInt16] = [255, 0, 255, 0, 255, 0, 255, 0, 255, 0]
        let row1: [UInt16] = [255, 255, 255, 255, 255, 0, 0, 0, 0, 0]
        #expect(r.samples == row0 + row1)
        let mask = ImageFile.mask(from: r)
        #expect(mask.isValid == (row0 + row1).map { $0 != 0 })
    }

    @Test func fourBitGrayExpands() throws {
        // 2 pixels: 0xF and 0x1 -> 255 and 17 (libpng replicates the bits).
        let png = handBuiltPNG(width: 2, height: 1, bitDepth: 4, colorType: 0, scanlines: [0, 0xF1])
        #expect(try RasterPNG.decode(png, path: "g4.png").samples == [255, 17])
    }

    // MARK: Corrupt input

    @Test func everyTruncationThrows() throws {
        let png = try PNGEncoder.rgb8(width: 6, height: 5, samples: (0..<90).map { UInt8($0) })
        for n in 0..<png.count {
            #expect(throws: PeaksError.self, "prefix of \(n) bytes") {
                try RasterPNG.decode(Array(png.prefix(n)), path: "t.png")
            }
        }
        expectFileError(path: "t.png", contains: "truncated") {
            _ = try RasterPNG.decode(Array(png.prefix(png.count - 20)), path: "t.png")
        }
    }

    @Test func flippedIDATBytesThrow() throws {
        let png = try PNGEncoder.gray16(width: 16, height: 16, samples: (0..<256).map { UInt16($0 * 251) })
        let idat = try #require(pngChunks(png).first { $0.type == "IDAT" })
        var bad = png
        bad[idat.offset + 8 + idat.length / 2] ^= 0xFF
        // zlib/filter decoding runs before the chunk's CRC is checked, so the message varies.
        expectFileError(path: "f.png", contains: "invalid PNG") { _ = try RasterPNG.decode(bad, path: "f.png") }
        // A damaged CRC on intact data is reported as such.
        var badCRC = png
        badCRC[idat.offset + 8 + idat.length] ^= 0x01
        expectFileError(path: "c.png", contains: "CRC error") { _ = try RasterPNG.decode(badCRC, path: "c.png") }

        // Same damage with a correct CRC: zlib must notice instead.
        var fixed = bad
        let body = Array(fixed[(idat.offset + 4)..<(idat.offset + 8 + idat.length)])
        fixed.replaceSubrange((idat.offset + 8 + idat.length)..<(idat.offset + 12 + idat.length), with: be32(crc32(body)))
        var zlibBroken = fixed
        // Damage the zlib header itself so the failure is certain.
        zlibBroken[idat.offset + 8] = 0x00
        let body2 = Array(zlibBroken[(idat.offset + 4)..<(idat.offset + 8 + idat.length)])
        zlibBroken.replaceSubrange((idat.offset + 8 + idat.length)..<(idat.offset + 12 + idat.length), with: be32(crc32(body2)))
        expectFileError(path: "z.png", contains: "invalid PNG") { _ = try RasterPNG.decode(zlibBroken, path: "z.png") }
        expectNoCrash("fixed CRC") { _ = try RasterPNG.decode(fixed, path: "f2.png") }
    }

    @Test func garbageAndBadSignature() {
        expectFileError(path: "g.png", contains: "not a PNG") {
            _ = try RasterPNG.decode(Array("hello, world, not a png".utf8), path: "g.png")
        }
        expectFileError(path: "e.png", contains: "not a PNG") { _ = try RasterPNG.decode([], path: "e.png") }
        // Valid signature, then garbage.
        expectFileError(path: "s.png", contains: "invalid PNG") {
            _ = try RasterPNG.decode(pngSignature + Array(repeating: 0x41, count: 64), path: "s.png")
        }
    }

    @Test func hugeDimensionsAreRefusedBeforeAllocation() {
        let png = handBuiltPNG(width: 0x7FFF_FFFF, height: 0x7FFF_FFFF, bitDepth: 16, colorType: 6,
                               scanlines: [0, 0, 0, 0, 0, 0, 0, 0, 0])
        expectFileError(path: "huge.png", contains: "too large") { _ = try RasterPNG.decode(png, path: "huge.png") }
        let zero = handBuiltPNG(width: 0, height: 5, bitDepth: 8, colorType: 0, scanlines: [0])
        expectFileError(path: "zero.png", contains: "width is zero") { _ = try RasterPNG.decode(zero, path: "zero.png") }
    }

    @Test func sampleByteLimit() throws {
        let png = try PNGEncoder.gray8(width: 100, height: 100, samples: [UInt8](repeating: 1, count: 10_000))
        expectFileError(path: "l.png", contains: "too large") {
            _ = try RasterPNG.decode(png, path: "l.png", maxSampleBytes: 9_999)
        }
        #expect(try RasterPNG.decode(png, path: "l.png", maxSampleBytes: 10_000).samples.count == 10_000)
    }

    @Test func randomDamageNeverCrashes() throws {
        var rng = SplitMix(state: 42)
        let rgba = try PNGEncoder.rgba8(width: 9, height: 7, samples: (0..<252).map { UInt8($0) }, interlaced: true)
        let palette = handBuiltPNG(width: 3, height: 2, bitDepth: 8, colorType: 3,
                                   scanlines: [0, 0, 1, 2, 0, 2, 1, 0],
                                   before: [pngChunk("PLTE", [1, 2, 3, 4, 5, 6, 7, 8, 9])])
        for source in [rgba, palette] {
            for trial in 0..<400 {
                var bytes = source
                for _ in 0..<(1 + rng.below(4)) {
                    bytes[8 + rng.below(bytes.count - 8)] = UInt8(truncatingIfNeeded: rng.next())
                }
                if trial % 5 == 0 { bytes = Array(bytes.prefix(8 + rng.below(bytes.count - 8))) }
                expectNoCrash("trial \(trial)") { _ = try RasterPNG.decode(bytes, path: "fuzz.png") }
            }
        }
    }
}
