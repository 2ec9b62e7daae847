import Foundation
import ImageIO
import PeakKit
import Testing

@Suite("NPY")
struct NPYTests {
    // MARK: Hand-built files with exact values

    @Test func handBuiltFloat32() throws {
        // shape (2, 3), '<f4': 1.5, -2, 0.25 / 1e6, 3, NaN-free.
        let values: [Float] = [1.5, -2, 0.25, 1e6, 3, 65535]
        let data = values.flatMap { bytesOf($0.bitPattern, bigEndian: false) }
        let file = handBuiltNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data: data)
        #expect(file.count == 128 + 24)  // 10 + 60-byte dict + '\n' > 64: padded to 128
        let image = try NPY.decode(file, path: "a.npy")
        #expect(image.width == 3 && image.height == 2)
        #expect(image.pixels == values)
        #expect(image[0, 1] == 1e6)
    }

    @Test func handBuiltBigEndianInt16() throws {
        // '>i2' shape (1, 3): -2 = FF FE, 258 = 01 02, 32767 = 7F FF.
        let file = handBuiltNPY("{'descr': '>i2', 'fortran_order': False, 'shape': (1, 3), }",
                                data: [0xFF, 0xFE, 0x01, 0x02, 0x7F, 0xFF])
        #expect(try NPY.decode(file, path: "b.npy").pixels == [-2, 258, 32767])
    }

    /// Every supported dtype in both byte orders (and '|'/'=' where meaningful).
    @Test(arguments: ["<", ">", "=", "|"])
    func everyDType(order: String) throws {
        func check<T: FixedWidthInteger>(_ code: String, _ values: [T], _ expected: [Float]) throws {
            if order == "|" && T.bitWidth > 8 { return }
            let big = order == ">"
            let data = values.flatMap { bytesOf($0, bigEndian: big) }
            let file = handBuiltNPY("{'descr': '\(order)\(code)', 'fortran_order': False, 'shape': (2, 2), }", data: data)
            let image = try NPY.decode(file, path: "\(code).npy")
            #expect(image.width == 2 && image.height == 2)
            #expect(image.pixels == expected, "\(order)\(code)")
        }
        try check("u1", [0, 1, 200, 255] as [UInt8], [0, 1, 200, 255])
        try check("i1", [0, -1, -128, 127] as [Int8], [0, -1, -128, 127])
        try check("u2", [0, 1000, 40000, 65535] as [UInt16], [0, 1000, 40000, 65535])
        try check("i2", [0, -1000, -32768, 32767] as [Int16], [0, -1000, -32768, 32767])
        try check("u4", [0, 1_000_000, 16_777_216, 4_294_967_295] as [UInt32], [0, 1_000_000, 16_777_216, 4_294_967_296])
        try check("i4", [0, -5, Int32.min, 123_456] as [Int32], [0, -5, -2_147_483_648, 123_456])
        try check("u8", [0, 7, 1 << 40, UInt64.max] as [UInt64], [0, 7, 1_099_511_627_776, 18_446_744_073_709_551_616])
        try check("i8", [0, -7, Int64.min, 1 << 50] as [Int64], [0, -7, -9_223_372_036_854_775_808, 1_125_899_906_842_624])
        try check("f4", [Float(1.5).bitPattern, Float(-0.125).bitPattern, Float(3e38).bitPattern, 0] as [UInt32],
                  [1.5, -0.125, 3e38, 0])
        try check("f8", [Double(1.5).bitPattern, Double(-1e-3).bitPattern, Double(1e300).bitPattern, Double(0.1).bitPattern] as [UInt64],
                  [1.5, Float(Double(-1e-3)), .infinity, Float(Double(0.1))])
        try check("b1", [0, 1, 1, 0] as [UInt8], [0, 1, 1, 0])
    }

    @Test func boolDType() throws {
        let file = handBuiltNPY("{'descr': '|b1', 'fortran_order': False, 'shape': (2, 3), }", data: [1, 0, 0, 0, 1, 1])
        #expect(try NPY.decode(file, path: "b.npy").pixels == [1, 0, 0, 0, 1, 1])
        let mask = try NPY.decodeMask(file, path: "b.npy")
        #expect(mask.isValid == [true, false, false, false, true, true])
    }

    @Test func fortranOrderIsTransposed() throws {
        // The 2x3 array [[1, 2, 3], [4, 5, 6]] stored column by column: 1 4 2 5 3 6.
        let column: [UInt8] = [1, 4, 2, 5, 3, 6]
        let file = handBuiltNPY("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3), }", data: column)
        let image = try NPY.decode(file, path: "f.npy")
        #expect(image.width == 3 && image.height == 2)
        #expect(image.pixels == [1, 2, 3, 4, 5, 6])
        // Same for a multi-byte type, big-endian, 3x2.
        let values: [Int32] = [10, 30, 50, 20, 40, 60] // columns of [[10,20],[30,40],[50,60]]
        let file2 = handBuiltNPY("{'descr': '>i4', 'fortran_order': True, 'shape': (3, 2), }",
                                 data: values.flatMap { bytesOf($0, bigEndian: true) })
        let image2 = try NPY.decode(file2, path: "f2.npy")
        #expect(image2.width == 2 && image2.height == 3)
        #expect(image2.pixels == [10, 20, 30, 40, 50, 60])
    }

    @Test(arguments: [UInt8(2), UInt8(3)])
    func headerVersions2And3(major: UInt8) throws {
        let file = handBuiltNPY("{'descr': '<u2', 'fortran_order': False, 'shape': (1, 2), }",
                                data: [0xE8, 0x03, 0x01, 0x00], major: major)
        #expect(try NPY.decode(file, path: "v.npy").pixels == [1000, 1])
        #expect(try NPY.header(file, path: "v.npy").version.major == major)
    }

    @Test func tolerantHeaderParser() throws {
        let data: [UInt8] = [1, 2, 3, 4, 5, 6]
        let dicts = [
            "{\"descr\": \"|u1\", \"fortran_order\": False, \"shape\": (2, 3)}",
            "{ 'shape' : ( 2 , 3 , ) , 'fortran_order':False,'descr':'|u1',}",
            "{'descr':'|u1','fortran_order':False,'shape':(2,3),'extra':[1, 'x', None, {'k': True}],}",
            "{'descr': '|u1', 'fortran_order': False, 'shape': (2L, 3L), }",
            "\t{'descr': '|u1',\n 'fortran_order': False, 'shape': [2, 3]}   ",
        ]
        for d in dicts {
            let image = try NPY.decode(handBuiltNPY(d, data: data), path: "t.npy")
            #expect(image.width == 3 && image.height == 2 && image.pixels == [1, 2, 3, 4, 5, 6], "\(d)")
        }
        // Unpadded header without the final newline.
        let raw = handBuiltNPY("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3)}", data: data, pad: false)
        #expect(try NPY.decode(raw, path: "t.npy").pixels == [1, 2, 3, 4, 5, 6])
    }

    @Test func squeezesThreeDShapesWithAOne() throws {
        let data: [UInt8] = [1, 2, 3, 4, 5, 6]
        for shape in ["(1, 2, 3)", "(2, 3, 1)"] {
            let file = handBuiltNPY("{'descr': '|u1', 'fortran_order': False, 'shape': \(shape), }", data: data)
            let image = try NPY.decode(file, path: "s.npy")
            #expect(image.width == 3 && image.height == 2 && image.pixels == [1, 2, 3, 4, 5, 6])
        }
    }

    @Test func emptyArrayDecodesToEmptyImage() throws {
        let file = handBuiltNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", data: [])
        let image = try NPY.decode(file, path: "z.npy")
        #expect(image.width == 5 && image.height == 0 && image.isEmpty)
    }

    /// A zero-sized Fortran-order array read as frames: nothing to transpose, however long the
    /// other axis (FuzzNPY found `(0, 31111111111111)` spinning through the columns; the input
    /// is in Fuzz/Corpus/FuzzNPY).
    @Test(.timeLimit(.minutes(1)))
    func emptyFortranFrameReadsAtOnce() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        for shape in ["(0, 31111111111111)", "(31111111111111, 0)", "(0, 5)"] {
            let path = try dir.write(handBuiltNPY("{'descr': '>i8', 'fortran_order': True, 'shape': \(shape), }", data: []), "z.npy")
            let source = try ImageFormat.open(path)
            let n = source.layout.width * source.layout.height
            #expect(n == 0, "\(shape): \(source.layout.width) x \(source.layout.height)")
            var pixels = [Float](repeating: 0, count: n)
            try pixels.withUnsafeMutableBufferPointer { try source.readFrame(0, into: $0) }
            var valid = [Bool](repeating: false, count: n)
            try valid.withUnsafeMutableBufferPointer { try source.readMaskFrame(0, into: $0) }
        }
    }

    // MARK: Errors

    @Test func shapeErrorsNameTheShape() {
        // 0-D, 1-D and 5-D arrays are no images; 3-D and 4-D ones are stacks, which
        // `NPY.decode` (one image) refuses naming the shape.
        let cases: [(String, Int, String)] = [
            ("(6,)", 6, "expected a 2-D (rows, columns), 3-D"),
            ("()", 1, "got shape ()"),
            ("(1, 1, 1, 2, 3)", 6, "got shape (1, 1, 1, 2, 3)"),
            ("(2, 2, 2)", 8, "got a stack of shape (2, 2, 2)"),
            ("(1, 1, 2, 3)", 6, "got a stack of shape (1, 1, 2, 3)"),
        ]
        for (shape, n, text) in cases {
            let file = handBuiltNPY("{'descr': '|u1', 'fortran_order': False, 'shape': \(shape), }",
                                    data: [UInt8](repeating: 1, count: n))
            expectFileError(path: "s.npy", contains: text) { _ = try NPY.decode(file, path: "s.npy") }
        }
    }

    @Test func unsupportedDTypes() {
        for descr in ["<c8", "<f16", "|O", "<U10", "<M8[ns]", "", "<i3", "|V8"] {
            let file = handBuiltNPY("{'descr': '\(descr)', 'fortran_order': False, 'shape': (1, 1), }",
                                    data: [UInt8](repeating: 0, count: 16))
            expectFileError(path: "d.npy", contains: "unsupported dtype '\(descr)'") { _ = try NPY.decode(file, path: "d.npy") }
        }
        let structured = handBuiltNPY("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1, 1), }", data: [0, 0, 0, 0])
        expectFileError(path: "d.npy", contains: "structured") { _ = try NPY.decode(structured, path: "d.npy") }
    }

    @Test func malformedFiles() {
        let good = handBuiltNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", data: [UInt8](repeating: 0, count: 16))
        expectFileError(path: "m.npy", contains: "bad magic") { _ = try NPY.decode(Array("NUMPY".utf8) + good, path: "m.npy") }
        expectFileError(path: "m.npy", contains: "truncated data") { _ = try NPY.decode(Array(good.dropLast()), path: "m.npy") }
        expectFileError(path: "m.npy", contains: "truncated NPY header") { _ = try NPY.decode(Array(good.prefix(40)), path: "m.npy") }
        var v9 = good; v9[6] = 9
        expectFileError(path: "m.npy", contains: "version 9.0") { _ = try NPY.decode(v9, path: "m.npy") }

        let bad: [(String, String)] = [
            ("{'descr': '<f4', 'fortran_order': False}", "no 'shape' key"),
            ("{'fortran_order': False, 'shape': (2, 2)}", "no 'descr' key"),
            ("{'descr': '<f4', 'shape': (2, 2)}", "no 'fortran_order' key"),
            ("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 2)}", "'fortran_order' is 0"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -2)}", "'shape' is (2, -2)"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2.0)}", "real number"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': 4}", "'shape' is 4"),
            ("{'descr': '<f4' 'fortran_order': False, 'shape': (2, 2)}", "malformed NPY header"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)", "malformed NPY header"),
            ("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 2)}", "malformed NPY header"),
            ("['descr', '<f4']", "malformed NPY header"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)} junk", "unexpected text"),
            ("{'descr': '<f4', 'fortran_order': false, 'shape': (2, 2)}", "unexpected word 'false'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 2)}", "integer too large"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", "too large"),
            ("", "malformed NPY header"),
        ]
        for (dict, text) in bad {
            let file = handBuiltNPY(dict, data: [UInt8](repeating: 0, count: 16))
            expectFileError(path: "h.npy", contains: text) { _ = try NPY.decode(file, path: "h.npy") }
        }
        // Deep nesting is refused, not a stack overflow.
        let deep = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': " + String(repeating: "[", count: 5000) + "}"
        expectFileError(path: "h.npy", contains: "nested too deeply") {
            _ = try NPY.decode(handBuiltNPY(deep, data: [UInt8](repeating: 0, count: 16), major: 2), path: "h.npy")
        }
    }

    @Test func everyTruncationThrowsAndDamageNeverCrashes() {
        let good = handBuiltNPY("{'descr': '>f8', 'fortran_order': True, 'shape': (3, 2), }",
                                data: (0..<6).flatMap { bytesOf(Double($0).bitPattern, bigEndian: true) })
        for n in 0..<good.count {
            #expect(throws: PeaksError.self, "prefix \(n)") { try NPY.decode(Array(good.prefix(n)), path: "t.npy") }
        }
        var rng = SplitMix(state: 7)
        for trial in 0..<2000 {
            var bytes = good
            for _ in 0..<(1 + rng.below(3)) { bytes[rng.below(80)] = UInt8(truncatingIfNeeded: rng.next()) }
            expectNoCrash("trial \(trial)") {
                _ = try NPY.decode(bytes, path: "fuzz.npy")
                _ = try NPY.decodeMask(bytes, path: "fuzz.npy")
            }
        }
    }

    // MARK: Masks

    @Test func maskNonZeroValidNaNInvalid() throws {
        let values: [Double] = [0, 1, .nan, -2, 1e-300, -0.0]
        let file = handBuiltNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
                                data: values.flatMap { bytesOf($0.bitPattern, bigEndian: false) })
        let mask = try NPY.decodeMask(file, path: "m.npy")
        #expect(mask.width == 3 && mask.height == 2)
        #expect(mask.isValid == [false, true, false, true, true, false])
    }

    // MARK: Encoding

    @Test func encodeFloat32LayoutAndRoundTrip() throws {
        let image = Image(width: 3, height: 2, pixels: [1, -2.5, .infinity, 0, 1e-30, 65535])
        let bytes = NPY.encodeFloat32(image)
        #expect(Array(bytes.prefix(8)) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        #expect(bytes[10 + headerLength - 1] == 0x0A)
        #expect(bytes.count == 10 + headerLength + 24)
        let text = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        #expect(text.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
        #expect(text.dropLast().drop(while: { $0 != "}" }).dropFirst().allSatisfy { $0 == " " })
        // Data: little-endian float32, row-major. 1.0 = 00 00 80 3F.
        #expect(Array(bytes[(10 + headerLength)..<(14 + headerLength)]) == [0x00, 0x00, 0x80, 0x3F])
        #expect(try NPY.decode(bytes, path: "e.npy") == image)

        let nan = NPY.encodeFloat32(Image(width: 1, height: 1, pixels: [.nan]))
        #expect(try NPY.decode(nan, path: "n.npy").pixels[0].isNaN)
        let empty = NPY.encodeFloat32(Image(width: 0, height: 0, pixels: []))
        #expect(try NPY.decode(empty, path: "z.npy").isEmpty)
    }

    @Test func encodeInt32() throws {
        let bytes = NPY.encodeInt32(width: 2, height: 3, values: [0, 1, -1, 7, Int32.max, Int32.min])
        let h = try NPY.header(bytes, path: "i.npy")
        #expect(h.descr == "<i4" && h.shape == [3, 2] && !h.fortranOrder && h.dataOffset % 64 == 0)
        #expect(Array(bytes[(h.dataOffset + 8)..<(h.dataOffset + 12)]) == [0xFF, 0xFF, 0xFF, 0xFF])
        let image = try NPY.decode(bytes, path: "i.npy")
        #expect(image.width == 2 && image.height == 3)
        #expect(image.pixels == [0, 1, -1, 7, 2_147_483_648, -2_147_483_648])
    }

    @Test func longShapeNeedsMorePadding() throws {
        let image = Image(width: 123_456, height: 1, repeating: 2)
        let bytes = NPY.encodeFloat32(image)
        let h = try NPY.header(bytes, path: "l.npy")
        #expect(h.dataOffset % 64 == 0)
        #expect(try NPY.decode(bytes, path: "l.npy") == image)
    }
}

@Suite struct NPYFloat64Encoding {
    @Test func anyShapeHeaderAndLittleEndianData() throws {
        let bytes = NPY.encodeFloat64(shape: [2, 3, 2], values: (0..<12).map { Double($0) + 0.5 })
        #expect(bytes.count % 64 == (12 * 8) % 64 && bytes.count == 128 + 96)
        let header = String(decoding: bytes[10..<128], as: UTF8.self)
        #expect(header.contains("'descr': '<f8'") && header.contains("'shape': (2, 3, 2)") && header.hasSuffix("\n"))
        var first: UInt64 = 0
        for k in 0..<8 { first |= UInt64(bytes[128 + k]) << (8 * UInt64(k)) }
        #expect(Double(bitPattern: first) == 0.5)
        // A 2-D float64 array reads back as an image.
        let flat = NPY.encodeFloat64(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let image = try NPY.decode(flat, path: "x.npy")
        #expect(image.width == 3 && image.height == 2 && image.pixels == [1, 2, 3, 4, 5, 6])
        #expect(NPY.encodeFloat64(shape: [4], values: [1, 2, 3, 4]).count == 128 + 32)
    }
}
