import Foundation
import ImageIO
import PeakKit
import Testing

@Suite("MRC")
struct MRCTests {
    static let names = ["mode0_int8.mrc", "mode1_int16.mrc", "mode2_float32.mrc", "mode6_uint16.mrc",
                        "mode12_float16.mrc", "stack_float32.mrcs", "extended_int16.mrc", "bigendian_float32.mrc"]

    @Test(arguments: names)
    func pixelsEqualMrcfile(name: String) throws {
        let ref = try #require(try Fixtures.reference("mrc")[name])
        let source = try ImageFormat.open(Fixtures.path("mrc", name))
        #expect(source.formatName == "MRC")
        #expect(source.layout.width == ref["width"] as? Int)
        #expect(source.layout.height == ref["height"] as? Int)
        #expect(source.layout.frameCount == ref["frames"] as? Int)
        #expect(source.layout.scan == nil)
        #expect(Fixtures.meta(source, "mrc_mode") == .integer(ref["mode"] as? Int ?? -1))
        let voxel = try #require(ref["voxel"] as? [Double])
        for (k, axis) in ["x", "y", "z"].enumerated() {
            let v = try #require(Fixtures.meta(source, "voxel_size_\(axis)_angstrom")?.double)
            #expect(abs(v - voxel[k]) <= 1e-6 * max(1, abs(voxel[k])), "voxel \(axis): \(v) vs \(voxel[k])")
        }
        if let ext = ref["nsymbt"] as? Int, ext > 0 {
            #expect(Fixtures.meta(source, "extended_header_bytes") == .integer(ext))
        }
        try Fixtures.expectFramesEqualReference(source, format: "mrc", name: name)
    }

    @Test func sampleTypesAreReported() throws {
        let expected = ["mode0_int8.mrc": "int8", "mode1_int16.mrc": "int16", "mode2_float32.mrc": "float32",
                        "mode6_uint16.mrc": "uint16", "mode12_float16.mrc": "float16"]
        for (name, type) in expected {
            #expect(try ImageFormat.open(Fixtures.path("mrc", name)).layout.sampleType == type)
        }
    }

    @Test func recognitionIsStrongWithMapStampAndWeakWithout() throws {
        var bytes = try Fixtures.bytes("mrc", "mode2_float32.mrc")
        #expect(ImageFormat.mrc.recognize(Array(bytes.prefix(2048)), bytes.count) == .strong)
        #expect(try ImageFormat.detect(InputFile(bytes: bytes, name: "a.bin")).name == "MRC")
        bytes.replaceSubrange(208..<212, with: [0, 0, 0, 0])
        #expect(ImageFormat.mrc.recognize(Array(bytes.prefix(2048)), bytes.count) == .weak)
        // Without the stamp only the extension decides.
        #expect(try ImageFormat.detect(InputFile(bytes: bytes, name: "a.mrc")).name == "MRC")
        #expect(try ImageFormat.detect(InputFile(bytes: bytes, name: "a.st")).name == "MRC")
        expectFileError(path: "a.bin", contains: "unsupported format") {
            _ = try ImageFormat.detect(InputFile(bytes: bytes, name: "a.bin"))
        }
        #expect(ImageFormat.mrc.recognize(Array(repeating: 0, count: 1024), 4096) == .no)
    }

    @Test func unknownMachineStampFallsBackOnTheMode() throws {
        // The big-endian file with its stamp wiped: little-endian gives an invalid mode, so
        // big-endian is used (mrcfile's permissive rule).
        var bytes = try Fixtures.bytes("mrc", "bigendian_float32.mrc")
        bytes.replaceSubrange(212..<216, with: [0, 0, 0, 0])
        let source = try Fixtures.openAndReadAll(bytes, name: "s.mrc", format: .mrc)
        let want = try ImageFormat.open(Fixtures.path("mrc", "bigendian_float32.mrc")).frame(0)
        #expect(try source?.frame(0) == want)
    }

    /// The header's int32 at `offset` set to `value` (little-endian fixtures).
    func patched(_ name: String, _ offset: Int, _ value: Int32) throws -> [UInt8] {
        var bytes = try Fixtures.bytes("mrc", name)
        bytes.replaceSubrange(offset..<(offset + 4), with: bytesOf(value, bigEndian: false))
        return bytes
    }

    @Test func complexAndUnknownModesAreRefused() throws {
        for (mode, text) in [(3, "unsupported MRC mode 3 (complex"), (4, "unsupported MRC mode 4 (complex"),
                             (101, "mode 101 (4-bit"), (7, "unsupported MRC mode 7")] {
            let bytes = try patched("mode2_float32.mrc", 12, Int32(mode))
            expectFileError(path: "c.mrc", contains: text) { try Fixtures.openAndReadAll(bytes, name: "c.mrc", format: .mrc) }
        }
    }

    @Test func headerDeclaringMoreThanTheFileIsRefused() throws {
        expectFileError(path: "t.mrc", contains: "truncated") {
            try Fixtures.openAndReadAll(try patched("stack_float32.mrcs", 8, 4), name: "t.mrc", format: .mrc)
        }
        expectFileError(path: "t.mrc", contains: "truncated") {
            try Fixtures.openAndReadAll(try patched("mode1_int16.mrc", 0, 1000), name: "t.mrc", format: .mrc)
        }
        expectFileError(path: "t.mrc", contains: "NSYMBT") {
            try Fixtures.openAndReadAll(try patched("mode1_int16.mrc", 92, 1 << 30), name: "t.mrc", format: .mrc)
        }
        expectFileError(path: "t.mrc", contains: "at least 1") {
            try Fixtures.openAndReadAll(try patched("mode1_int16.mrc", 4, -3), name: "t.mrc", format: .mrc)
        }
    }

    @Test func hugeFramesAreRefusedBeforeAllocation() throws {
        var bytes = try patched("mode2_float32.mrc", 0, 0x10000)
        bytes.replaceSubrange(4..<8, with: bytesOf(Int32(0x10000), bigEndian: false))
        expectFileError(path: "h.mrc", contains: "read limit") { try Fixtures.openAndReadAll(bytes, name: "h.mrc", format: .mrc) }
    }

    @Test func everyTruncationThrows() throws {
        for name in ["extended_int16.mrc", "stack_float32.mrcs"] {
            let bytes = try Fixtures.bytes("mrc", name)
            for n in 0..<bytes.count {
                #expect(throws: PeaksError.self, "\(name) cut to \(n) bytes") {
                    try Fixtures.openAndReadAll(Array(bytes.prefix(n)), name: "t.mrc", format: .mrc)
                }
            }
        }
    }

    @Test func randomDamageNeverCrashes() throws {
        var rng = SplitMix(state: 7)
        for name in ["mode12_float16.mrc", "extended_int16.mrc", "bigendian_float32.mrc"] {
            let source = try Fixtures.bytes("mrc", name)
            for trial in 0..<300 {
                var bytes = source
                for _ in 0..<(1 + rng.below(6)) {
                    // Mostly the header, where the sizes are.
                    let at = trial % 3 == 0 ? rng.below(bytes.count) : rng.below(1024)
                    bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                }
                if trial % 7 == 0 { bytes = Array(bytes.prefix(1 + rng.below(bytes.count))) }
                expectNoCrash("\(name) trial \(trial)") { try Fixtures.openAndReadAll(bytes, name: "d.mrc", format: .mrc) }
            }
        }
    }
}
