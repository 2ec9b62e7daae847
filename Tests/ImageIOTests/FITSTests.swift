import Foundation
@testable import ImageIO
import PeakKit
import Testing

@Suite("FITS")
struct FITSTests {
    func open(_ name: String, hdu: Int? = nil) throws -> any FrameSource {
        try ImageFormat.open(Fixture.path("fits/" + name), options: OpenOptions(hdu: hdu))
    }

    func meta(_ s: any FrameSource, _ key: String) -> Value? { s.metadata.first { $0.0 == key }?.1 }

    @Test func uint16WithBZeroIsExact() throws {
        let s = try open("uint16_bzero.fits")
        #expect(s.formatName == "FITS")
        #expect(s.layout == FrameLayout(width: 256, height: 256, frameCount: 1, sampleType: "uint16"))
        let pixels = try s.frame(0).pixels
        #expect(pixels == Fixture.image)
        #expect(pixels.max()! > 32767)  // values above int16's range came back through BZERO
    }

    @Test func float32() throws {
        let s = try open("float32.fits")
        #expect(s.layout.sampleType == "float32" && s.layout.width == 64)
        #expect(try s.frame(0).pixels == Fixture.stack[2])
    }

    @Test func cubeIsAStack() throws {
        let s = try open("cube.fits")
        #expect(s.layout == FrameLayout(width: 64, height: 64, frameCount: 6, sampleType: "uint16"))
        for i in [2, 5, 0, 1, 4, 3] { #expect(try s.frame(i).pixels == Fixture.stack[i], "frame \(i)") }
        let got = Mutex2<[Int: [Float]]>([:])
        DispatchQueue.concurrentPerform(iterations: 18) { k in
            if let p = try? s.frame(k % 6).pixels { got.update { $0[k] = p } }
        }
        #expect(got.value.count == 18)
        for (k, p) in got.value { #expect(p == Fixture.stack[k % 6]) }
    }

    @Test func riceTileCompressedInTheFirstExtension() throws {
        let s = try open("rice.fits")
        #expect(meta(s, "hdu") == .integer(1))
        #expect(meta(s, "tile_compressed") == .bool(true))
        #expect(s.layout.sampleType == "int32")
        #expect(try s.frame(0).pixels == Fixture.image)
        expectFileError(contains: "HDU 0 holds no image (NAXIS = 0)") { _ = try open("rice.fits", hdu: 0) }
    }

    @Test func blankBecomesNaNAndInvalid() throws {
        let s = try open("int16_blank.fits")
        #expect(s.nanMeansInvalid)
        #expect(meta(s, "blank") == .integer(-32768))
        var expected = Fixture.stack[3].map { Float(Int($0) / 2) }
        for x in stride(from: 0, to: 64, by: 7) { expected[10 * 64 + x] = .nan }
        for y in 0..<64 { expected[y * 64 + 50] = .nan }
        let pixels = try s.frame(0).pixels
        #expect(samePixels(pixels, expected))
        #expect(pixels.filter(\.isNaN).count == 64 + 10)  // x = 0, 7, ..., 63 in row 10; column 50
        let mask = try s.maskFrame(0)
        #expect(!mask.isValid[10 * 64] && !mask.isValid[5 * 64 + 50] && mask.isValid[11 * 64 + 1])
    }

    @Test func hduSelection() throws {
        // Primary empty, 1 = table, 2 = float32 64x64 (stack[0]), 3 = uint16 (stack[1]).
        let first = try open("multi_hdu.fits")
        #expect(meta(first, "hdu") == .integer(2))
        #expect(try first.frame(0).pixels == Fixture.stack[0])
        #expect(try open("multi_hdu.fits", hdu: 3).frame(0).pixels == Fixture.stack[1])
        #expect(try open("multi_hdu.fits", hdu: 3).layout.sampleType == "uint16")
        expectFileError(contains: "HDU 1 is a binary table, not an image") { _ = try open("multi_hdu.fits", hdu: 1) }
        expectFileError(contains: "HDU 4 does not exist (the file has 4 HDUs, 0 to 3)") { _ = try open("multi_hdu.fits", hdu: 4) }
        #expect(try open("uint16_bzero.fits", hdu: 0).frame(0).pixels == Fixture.image)
    }

    @Test func bracketsInThePathAreAFileName() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let bytes = try Fixture.bytes("fits/multi_hdu.fits")
        for name in ["we[ird].fits", "a[1].fits", "b+c(1)*.fits", "d[compress].fits"] {
            let p = try dir.write(bytes, name)
            let s = try ImageFormat.open(p, options: OpenOptions(hdu: 3))
            #expect(try s.frame(0).pixels == Fixture.stack[1], "\(name)")
        }
    }

    @Test func inMemoryFiles() throws {
        let file = try InputFile(bytes: try Fixture.bytes("fits/cube.fits"), name: "mem.fits")
        let s = try ImageFormat.fits.open(file, .init())
        #expect(try s.frame(5).pixels == Fixture.stack[5])
    }

    @Test func truncatedAndCorruptFilesFailWithOneLine() throws {
        for name in ["rice.fits", "cube.fits", "multi_hdu.fits"] {
            let bytes = try Fixture.bytes("fits/" + name)
            for length in stride(from: 1, to: bytes.count, by: 37) where length < 8640 || length % 5 == 0 {
                expectNoCrash("\(name) cut at \(length)") {
                    try openAndReadAll(Array(bytes.prefix(length)), format: .fits, name: name)
                }
            }
        }
        let cube = try Fixture.bytes("fits/cube.fits")
        expectFileError(path: "cut.fits", contains: "truncated: HDU 0's data needs 52032 bytes, the file has 50720") {  // 2880 + 6 × 64 × 64 × 2
            try openAndReadAll(Array(cube.prefix(cube.count - 4000)), format: .fits, name: "cut.fits")
        }
        var rng = SplitMix(state: 3)
        for name in ["rice.fits", "int16_blank.fits"] {
            let original = try Fixture.bytes("fits/" + name)
            for _ in 0..<80 {
                var bytes = original
                for _ in 0..<(1 + rng.below(6)) {
                    let i = rng.below(2) == 0 ? rng.below(min(8640, bytes.count)) : rng.below(bytes.count)
                    bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                }
                expectNoCrash(name) { try openAndReadAll(bytes, format: .fits, name: name) }
            }
        }
    }

    /// cfitsio 4.2.0's Rice decoder runs past a corrupt tile (SEGV, Fuzz/Known/FuzzFITS): the
    /// tile is checked first and refused.
    @Test func corruptRiceTileIsRefusedBeforeCfitsioDecodesIt() throws {
        let bytes = try Fixture.bytes("fits/rice_corrupt_tile.fits")
        expectFileError(contains: "RICE tile 2 runs past its 18 bytes") {
            _ = try ImageFormat.fits.open(InputFile(bytes: bytes, name: "t.fits"), .init()).frame(0)
        }
        // On disk (not padded to 2880 bytes) cfitsio already fails to read the tile descriptors.
        expectNoCrash("on disk") { _ = try open("rice_corrupt_tile.fits").frame(0) }
    }

    /// cfitsio looks keywords up from where its last lookup ended: a second, unparsable ZTILE2
    /// card was read as a tile size of 0 and divided by (SIGFPE while counting HDUs).
    @Test func repeatedOrNonIntegerTileKeywordsAreRefused() throws {
        var bytes = try Fixture.bytes("fits/duplicate_ztile.fits")
        expectFileError(contains: "is repeated or not an integer") {
            _ = try ImageFormat.fits.open(InputFile(bytes: bytes, name: "t.fits"), .init())
        }
        let noBlank = try Fixture.bytes("fits/ztile_no_blank.fits")  // "ZTILE1  =0     8"
        expectFileError(contains: "ZTILE1 is repeated or not an integer") {
            _ = try ImageFormat.fits.open(InputFile(bytes: noBlank, name: "t.fits"), .init())
        }
        // The same with a clean ZNAXIS1 card: the second ZTILE2 is the one refused.
        let card = Array("ZNAXIS1 =                    8".utf8) + [UInt8](repeating: 32, count: 50)
        bytes.replaceSubrange((2880 + 14 * 80)..<(2880 + 15 * 80), with: card)
        expectFileError(contains: "ZTILE2 is repeated or not an integer") {
            _ = try ImageFormat.fits.open(InputFile(bytes: bytes, name: "t.fits"), .init())
        }
    }

    /// Headers that crashed cfitsio while it counted the HDUs (found by FuzzFITS), each refused
    /// by peaks' header pass before cfitsio parses it:
    /// - a card "END  =  T" ends the header for cfitsio (it reads a keyword's name up to the
    ///   first blank or "="), and the tile size of 0 in that header divided by zero (SIGFPE);
    /// - a TTYPE1 value of 70 characters without quotes overflowed cfitsio's 70-byte column name
    ///   (strcpy in ffgtbp; _FORTIFY_SOURCE aborted peaks);
    /// - RICE_1 with ZVAL1 (BLOCKSIZE) = 0: cfitsio divides by it while opening the HDU
    ///   (imcomp_calc_max_elem, SIGFPE).
    @Test(arguments: [
        ("fits/end_with_equals.fits", "ZTILE2 = 0"),
        ("fits/long_unquoted_ttype.fits", "the value of TTYPE1 is 70 characters without quotes"),
        ("fits/rice_blocksize_zero.fits", "RICE_1 BLOCKSIZE = 0"),
    ])
    func headersThatCrashedCfitsioAreRefusedFirst(_ fixture: String, _ message: String) throws {
        let bytes = try Fixture.bytes(fixture)
        expectFileError(contains: message) {
            _ = try ImageFormat.fits.open(InputFile(bytes: bytes, name: "t.fits"), .init())
        }
    }

    @Test func riceCheckFollowsTheDecoder() throws {
        // Whole tiles of the valid fixture pass; every shorter prefix and a run of zeros fail.
        let bytes = try Fixture.bytes("fits/rice.fits")
        let heap = 5760 + 256 * 8  // row 1: 201 bytes at heap offset 0, one 256-pixel row
        let tile = Array(bytes[heap..<(heap + 201)])
        #expect(RiceCheck.fits(tile, nx: 256, blockSize: 32, bytePix: 4))
        for n in 0..<tile.count { #expect(!RiceCheck.fits(Array(tile.prefix(n)), nx: 256, blockSize: 32, bytePix: 4)) }
        // Constant tiles are all FS codes (zeros are valid); a Rice code (FS = 1) followed by
        // zeros is the decoder's leading-zero loop running off the end (the crash).
        #expect(RiceCheck.fits([UInt8](repeating: 0, count: 64), nx: 256, blockSize: 32, bytePix: 4))
        #expect(!RiceCheck.fits([0, 0, 0, 0, 0x10] + [UInt8](repeating: 0, count: 60), nx: 256, blockSize: 32, bytePix: 4))
        // A block of zero differences takes FS bits only: 5 of the 8 left after the first pixel.
        #expect(RiceCheck.fits([0, 0, 0, 0, 0], nx: 32, blockSize: 32, bytePix: 4))
        #expect(!RiceCheck.fits([0, 0, 0, 0, 0], nx: 33, blockSize: 32, bytePix: 4))
        #expect(RiceCheck.fits([0, 0], nx: 64, blockSize: 32, bytePix: 1))  // 2 x 3 bits
        #expect(!RiceCheck.fits([0, 0], nx: 96, blockSize: 32, bytePix: 1))
    }

    @Test func recognition() {
        #expect(FITS.recognize(Array("SIMPLE  =                    T".utf8)) == .strong)
        #expect(FITS.recognize(Array("SIMPLE =".utf8)) == .no)
    }
}
