import Foundation
import ImageIO
import PeakKit
import Testing

@Suite("ImageFile")
struct ImageFileTests {
    @Test func formatComesFromMagicBytesNotExtension() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let png = try PNGEncoder.gray16(width: 3, height: 2, samples: [1, 2, 3, 1000, 5, 65535])
        let npy = handBuiltNPY("{'descr': '<i2', 'fortran_order': False, 'shape': (1, 2), }", data: [0x07, 0x00, 0xFF, 0xFF])
        let pngAsNpy = try dir.write(png, "really-a-png.npy")
        let npyAsPng = try dir.write(npy, "really-an-npy.png")
        let noExtension = try dir.write(png, "image")
        #expect(try ImageFile.read(pngAsNpy).pixels == [1, 2, 3, 1000, 5, 65535])
        #expect(try ImageFile.read(noExtension).width == 3)
        let image = try ImageFile.read(npyAsPng)
        #expect(image.width == 2 && image.height == 1 && image.pixels == [7, -1])
        #expect(ImageFile.formatName(of: png) == "PNG" && ImageFile.formatName(of: npy) == "NPY")
    }

    @Test func missingFile() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let path = dir.path("nope.png")
        #expect(throws: PeaksError.file(path: path, reason: "no such file")) { try ImageFile.read(path) }
        let image = Image(width: 1, height: 1)
        #expect(throws: PeaksError.file(path: path, reason: "no such file")) { try ImageFile.readMask(path, for: image) }
        #expect((try? ImageFile.read(path)) == nil)
        do {
            _ = try ImageFile.read(path)
        } catch {
            #expect("\(error)" == "\(path): no such file")
        }
        let nested = dir.path("nope/b.png")
        expectFileError(path: nested, contains: "no such file") { _ = try ImageFile.read(nested) }
    }

    @Test func folderEmptyGarbageAndUnreadable() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        expectFileError(path: dir.url.path, contains: "is a folder, not a file") { _ = try ImageFile.read(dir.url.path) }
        let empty = try dir.write([], "empty.png")
        expectFileError(path: empty, contains: "empty file") { _ = try ImageFile.read(empty) }
        let garbage = try dir.write(Array("just some text\n".utf8), "text.png")
        expectFileError(path: garbage, contains: "unsupported format: expected one of PNG, NPY, ") { _ = try ImageFile.read(garbage) }
        expectFileError(path: garbage, contains: "6a 75 73 74") { _ = try ImageFile.read(garbage) }
        let jpeg = try dir.write([0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10], "photo.png")
        expectFileError(path: jpeg, contains: "looks like JPEG") { _ = try ImageFile.read(jpeg) }
        expectFileError(path: jpeg, contains: "unsupported format") { _ = try ImageFile.readMask(jpeg) }

        let locked = try dir.write(try PNGEncoder.gray8(width: 1, height: 1, samples: [1]), "locked.png")
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: locked)
        if getuid() != 0 {  // root can read anything
            expectFileError(path: locked, contains: "permission denied") { _ = try ImageFile.read(locked) }
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: locked)
    }

    @Test func corruptFilesOnDiskGiveFileErrors() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let png = try PNGEncoder.gray8(width: 8, height: 8, samples: [UInt8](repeating: 9, count: 64))
        let truncated = try dir.write(Array(png.prefix(50)), "trunc.png")
        expectFileError(path: truncated, contains: "invalid PNG") { _ = try ImageFile.read(truncated) }
        let npy = try dir.write(handBuiltNPY("{'descr': '<c8', 'fortran_order': False, 'shape': (1, 1), }", data: [UInt8](repeating: 0, count: 8)), "c.npy")
        expectFileError(path: npy, contains: "unsupported dtype '<c8'") { _ = try ImageFile.read(npy) }
    }

    // MARK: Masks

    @Test func maskShapeMismatch() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let path = try dir.write(try PNGEncoder.gray8(width: 3, height: 2, samples: [0, 1, 2, 3, 4, 5]), "mask.png")
        let image = Image(width: 2, height: 3)
        #expect(throws: PeaksError.shapeMismatch(what: "mask '\(path)'", expected: (2, 3), actual: (3, 2))) {
            try ImageFile.readMask(path, for: image)
        }
        do {
            _ = try ImageFile.readMask(path, for: image)
        } catch let error as PeaksError {
            guard case let .shapeMismatch(what, expected, actual) = error else {
                Issue.record("wrong case \(error)"); return
            }
            #expect(what == "mask '\(path)'")
            #expect(expected == (2, 3) && actual == (3, 2))
        }
        let ok = try ImageFile.readMask(path, for: Image(width: 3, height: 2))
        #expect(ok.isValid == [false, true, true, true, true, true])
    }

    @Test func colourAndAlphaMasks() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        // RGBA: only R, G, B count; alpha is ignored.
        let rgba = try dir.write(try PNGEncoder.rgba8(width: 4, height: 1, samples: [
            0, 0, 0, 255,   0, 0, 1, 0,   9, 0, 0, 0,   0, 0, 0, 0,
        ]), "rgba.png")
        let m = try ImageFile.readMask(rgba, for: Image(width: 4, height: 1))
        #expect(m.isValid == [false, true, true, false])
        // Gray + alpha: the gray sample decides.
        let ga = try dir.write(try PNGEncoder.grayAlpha8(width: 2, height: 1, samples: [0, 255, 3, 0]), "ga.png")
        #expect(try ImageFile.readMask(ga).isValid == [false, true])
        // 16-bit gray.
        let g16 = try dir.write(try PNGEncoder.gray16(width: 3, height: 1, samples: [0, 1, 65535]), "g16.png")
        #expect(try ImageFile.readMask(g16).isValid == [false, true, true])
    }

    @Test func npyMaskFromFile() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let values: [Float] = [0, 1, .nan, -3]
        let path = try dir.write(handBuiltNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                                              data: values.flatMap { bytesOf($0.bitPattern, bigEndian: false) }), "m.npy")
        let mask = try ImageFile.readMask(path, for: Image(width: 2, height: 2))
        #expect(mask.isValid == [false, true, false, true])
        #expect(throws: PeaksError.self) { try ImageFile.readMask(path, for: Image(width: 4, height: 1)) }
    }

    // MARK: Writing

    @Test func png16WriterClipsAndRounds() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let image = Image(width: 4, height: 2, pixels: [0, 2.5, 0.5, -7, 70000, .nan, .infinity, 1000.49])
        let path = dir.path("out.png")
        try ImageFile.writePNG16(image, to: path)
        let back = try ImageFile.read(path)
        // .toNearestOrAwayFromZero: 2.5 -> 3, 0.5 -> 1; clipped; NaN -> 0; +inf -> 65535.
        #expect(back.pixels == [0, 3, 1, 0, 65535, 0, 65535, 1000])
        #expect(try RasterPNG.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))), path: path).bitDepth == 16)

        // Integer images in range come back exactly.
        let exact = Image(width: 3, height: 3) { x, y in Float(x * 20000 + y * 1000) }
        try ImageFile.writePNG16(exact, to: path)
        #expect(try ImageFile.read(path) == exact)

        // Linear scale + offset: v * 100 + 5.
        try ImageFile.writePNG16(Image(width: 2, height: 1, pixels: [0.5, 1.234]), to: path, scale: 100, offset: 5)
        #expect(try ImageFile.read(path).pixels == [55, 128])
    }

    @Test func png8WriterAndLinearMap() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let image = Image(width: 3, height: 1, pixels: [-1, 0, 1])
        let map = ImageEncoding.linearMap(from: -1, to: 1, maxValue: 255)
        let path = dir.path("out8.png")
        try ImageFile.writePNG8(image, to: path, scale: map.scale, offset: map.offset)
        let raster = try RasterPNG.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))), path: path)
        #expect(raster.bitDepth == 8)
        #expect(raster.samples == [0, 128, 255])  // 127.5 rounds away from zero
        #expect(ImageEncoding.linearMap(from: 3, to: 3, maxValue: 255) == (0, 0))
    }

    @Test func emptyImageCannotBePNG() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let path = dir.path("empty.png")
        expectFileError(path: path, contains: "empty") { try ImageFile.writePNG16(Image(width: 0, height: 4), to: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func npyAndMaskWriters() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let image = Image(width: 3, height: 2, pixels: [0.1, -2, 3.75, 1e-7, 5, 6])
        let npy = dir.path("x.npy")
        try ImageFile.writeNPY(image, to: npy)
        #expect(try ImageFile.read(npy) == image)
        #expect(ImageEncoding.npyFloat32(image) == NPY.encodeFloat32(image))

        let mask = Mask(width: 3, height: 2, isValid: [true, false, true, false, false, true])
        let mp = dir.path("m.png")
        try ImageFile.writeMaskPNG(mask, to: mp)
        #expect(try ImageFile.readMask(mp, for: image) == mask)
        #expect(try ImageFile.read(mp).pixels == [255, 0, 255, 0, 0, 255])
    }

    @Test func bigImageRoundTrip() throws {
        let w = 640, h = 480
        let image = Image(width: w, height: h) { x, y in Float((x * 131 + y * 977) % 65536) }
        let png = try ImageEncoding.png16(image)
        #expect(try ImageFile.decode(png, path: "big.png") == image)
        let npy = ImageEncoding.npyFloat32(image)
        #expect(try ImageFile.decode(npy, path: "big.npy") == image)
    }
}
