import Foundation
@testable import ImageIO
import PeakKit
import Testing

@Suite("HDF5")
struct HDF5Tests {
    func open(_ name: String, dataset: String? = nil) throws -> any FrameSource {
        try ImageFormat.open(Fixture.path("hdf5/" + name), options: OpenOptions(dataset: dataset))
    }

    func meta(_ s: any FrameSource, _ key: String) -> Value? { s.metadata.first { $0.0 == key }?.1 }

    @Test func gzipChunkedImage() throws {
        let s = try open("gzip2d.h5")
        #expect(s.formatName == "HDF5")
        #expect(s.layout == FrameLayout(width: 256, height: 256, frameCount: 1, sampleType: "uint16"))
        #expect(meta(s, "dataset") == .string("/data"))
        #expect(meta(s, "dataset_rule") == .string("the only image dataset"))
        #expect(meta(s, "chunks") == .string("(64, 64)"))
        #expect(try s.frame(0).pixels == Fixture.image)
    }

    @Test(arguments: ["nexus.nxs", "nexus_entry_default.nxs"])
    func nexusDefault(name: String) throws {
        // Two 2-D datasets; the NeXus default picks the signal.
        let s = try open(name)
        #expect(meta(s, "dataset") == .string("/entry/data/counts"))
        #expect(meta(s, "dataset_rule") == .string("NeXus default"))
        #expect(try s.frame(0).pixels == Fixture.image)
        // --dataset overrides it.
        let mask = try open(name, dataset: "/entry/instrument/detector/pixel_mask")
        #expect(mask.layout.width == 64 && mask.layout.sampleType == "uint8")
        #expect(try open(name, dataset: "entry/data/counts").frame(0).pixels == Fixture.image)
    }

    @Test func bitshuffleLZ4StackWithChunksSpanningFrames() throws {
        let s = try open("bslz4_stack.h5")
        #expect(s.layout == FrameLayout(width: 64, height: 64, frameCount: 6, sampleType: "uint16"))
        for i in [5, 0, 3, 1, 4, 2] { #expect(try s.frame(i).pixels == Fixture.stack[i], "frame \(i)") }
        let got = Mutex2<[Int: [Float]]>([:])
        DispatchQueue.concurrentPerform(iterations: 18) { k in
            if let p = try? s.frame(k % 6).pixels { got.update { $0[k] = p } }
        }
        #expect(got.value.count == 18)
        for (k, p) in got.value { #expect(p == Fixture.stack[k % 6]) }
    }

    @Test func scan4D() throws {
        let s = try open("scan4d.h5")
        #expect(s.layout == FrameLayout(width: 32, height: 32, frameCount: 12, scan: ScanShape(height: 3, width: 4), sampleType: "uint16"))
        let reference = try Fixture.reference("scan.npy")
        #expect(reference.count == 12)
        for i in 0..<12 { #expect(try s.frame(i).pixels == reference[i], "frame \(i)") }
    }

    @Test func twoCandidatesNeedADataset() throws {
        expectFileError(contains: "2 datasets could be the image; choose one with --dataset: /a (64, 64), /b/c (64, 64)") {
            _ = try open("two_candidates.h5")
        }
        #expect(try open("two_candidates.h5", dataset: "/b/c").frame(0).pixels == Fixture.stack[1])
        #expect(try open("two_candidates.h5", dataset: "/a").frame(0).pixels == Fixture.stack[0])
    }

    @Test func missingOrWrongDataset() throws {
        expectFileError(contains: "no dataset '/nope' in the file (datasets: /a (64, 64), /axis (64,), /b/c (64, 64))") {
            _ = try open("two_candidates.h5", dataset: "/nope")
        }
        expectFileError(contains: "no dataset '/b/x/y'") { _ = try open("two_candidates.h5", dataset: "/b/x/y") }
        expectFileError(contains: "'/b' is a group, not a dataset") { _ = try open("two_candidates.h5", dataset: "/b") }
        expectFileError(contains: "dataset '/axis' has 1 dimension; expected 2") { _ = try open("two_candidates.h5", dataset: "/axis") }
        expectFileError(contains: "has 5 dimensions") { _ = try open("types.h5", dataset: "/five_d") }
        expectFileError(contains: "compound (e.g. complex) elements") { _ = try open("types.h5", dataset: "/complex") }
        expectFileError(contains: "string elements") { _ = try open("types.h5", dataset: "/strings") }
        // types.h5 has many 2-D datasets and no default.
        expectFileError(contains: "choose one with --dataset") { _ = try open("types.h5") }
    }

    @Test(arguments: ["u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8", "be_u2", "be_f8"])
    func everyNumericType(code: String) throws {
        let s = try open("types.h5", dataset: "/t/" + code)
        let names = ["u": "uint", "i": "int", "f": "float"]
        let plain = code.replacingOccurrences(of: "be_", with: "")
        let bits = Int(plain.dropFirst())! * 8
        #expect(s.layout.sampleType == names[String(plain.prefix(1))]! + String(bits))
        #expect(try s.frame(0).pixels == Fixture.reference("small.npy")[0])
    }

    @Test func userBlock() throws {
        let bytes = try Fixture.bytes("hdf5/userblock.h5")
        #expect(HDF5.recognize(bytes) == .strong)
        #expect(Array(bytes.prefix(8)) != HDF5.signature)
        #expect(try open("userblock.h5").frame(0).pixels == Fixture.reference("small.npy")[0])
    }

    @Test func inMemoryFilesReadTheSame() throws {
        let file = try InputFile(bytes: try Fixture.bytes("hdf5/bslz4_stack.h5"), name: "mem.h5")
        let s = try ImageFormat.hdf5.open(file, .init())
        #expect(try s.frame(4).pixels == Fixture.stack[4])
    }

    @Test func truncatedFilesFailWithOneLine() throws {
        for name in ["gzip2d.h5", "bslz4_stack.h5", "nexus.nxs"] {
            let bytes = try Fixture.bytes("hdf5/" + name)
            for length in stride(from: 1, to: bytes.count, by: 37) where length < 8192 || length % 7 == 0 {
                expectNoCrash("\(name) cut at \(length)") {
                    try openAndReadAll(Array(bytes.prefix(length)), format: .hdf5, name: name)
                }
            }
        }
        let bytes = try Fixture.bytes("hdf5/gzip2d.h5")
        expectFileError(path: "cut.h5", contains: "invalid HDF5") {
            try openAndReadAll(Array(bytes.prefix(1000)), format: .hdf5, name: "cut.h5")
        }
    }

    /// Corrupt chunk data (not metadata: libhdf5 1.10 is not hardened against forged headers,
    /// see docs/formats.md).
    @Test func corruptChunksFailWithOneLine() throws {
        var rng = SplitMix(state: 5)
        let original = try Fixture.bytes("hdf5/gzip2d.h5")
        for _ in 0..<40 {
            var bytes = original
            for _ in 0..<4 {
                let i = bytes.count / 2 + rng.below(bytes.count / 2 - 1)
                bytes[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            expectNoCrash("corrupt chunk") { try openAndReadAll(bytes, format: .hdf5, name: "c.h5") }
        }
    }

    /// A bitshuffle-LZ4 chunk whose header declares 8 bytes for a 256-byte chunk: libhdf5 1.10.8
    /// copied 256 bytes out of the filter's 8 (heap overflow, Fuzz/Known/FuzzHDF5); the wrapped
    /// filter now fails the read.
    @Test func filterOutputShorterThanTheChunkFailsTheRead() throws {
        let source = try ImageFormat.hdf5.open(InputFile(bytes: Fixture.bytes("hdf5/bslz4_short_chunk.h5"), name: "short.h5"), .init())
        expectFileError(contains: "cannot read frame 0 of '/s'") { _ = try source.frame(0) }
        // The same through a predefined filter (szip: the chunk's size header says 96 of 128).
        let szip = try ImageFormat.hdf5.open(InputFile(bytes: Fixture.bytes("hdf5/szip_short_chunk.h5"), name: "szip.h5"), .init())
        expectFileError(contains: "cannot read frame 0 of '/data'") { _ = try szip.frame(0) }
        #expect(try szip.frame(1).pixels.count == 64)
        #expect(Set([1, 2, 3, 4, 5, 6]).isSubset(of: HDF5Filters.wrapped))  // deflate ... scaleoffset
        expectNoCrash("chunk past the end") { try openAndReadAll(Fixture.bytes("hdf5/chunk_past_eof.h5"), format: .hdf5, name: "e.h5") }
        expectNoCrash("forged metadata") { try openAndReadAll(Fixture.bytes("hdf5/forged_metadata.h5"), format: .hdf5, name: "f.h5") }
    }

    /// bitshuffle 0.3.5 decodes with LZ4_decompress_fast and reads block headers past the chunk
    /// (SEGV in bshuf_read_uint32_BE, found by FuzzHDF5): the stream is walked first.
    @Test func malformedBitshuffleLZ4ChunkFailsTheRead() throws {
        expectNoCrash("corrupt block") { try openAndReadAll(Fixture.bytes("hdf5/bslz4_corrupt_block.h5"), format: .hdf5, name: "c.h5") }
    }

    @Test func lz4BlockCheck() {
        func ok(_ bytes: [UInt8], _ n: Int) -> Bool { bytes.withUnsafeBytes { LZ4Check.lz4Block($0, produces: n) } }
        // 5 literals "abcde", a match of 8 at offset 5, then 5 literals: 18 bytes out.
        let valid: [UInt8] = [0x54, 97, 98, 99, 100, 101, 5, 0, 0x50, 102, 103, 104, 105, 106]
        #expect(ok(valid, 18))
        #expect(!ok(valid, 17) && !ok(valid, 19))
        for n in 0..<valid.count { #expect(!ok(Array(valid.prefix(n)), 18)) }
        #expect(!ok([0x54, 97, 98, 99, 100, 101, 6, 0, 0x50, 102, 103, 104, 105, 106], 18))  // offset past the start
        #expect(!ok([0x54, 97, 98, 99, 100, 101, 0, 0, 0x50, 102, 103, 104, 105, 106], 18))  // offset 0
        #expect(ok([0x30, 1, 2, 3], 3) && ok([0x00], 0))
    }

    @Test func recognition() {
        #expect(HDF5.recognize(HDF5.signature) == .strong)
        #expect(HDF5.recognize([UInt8](repeating: 0, count: 1024) + HDF5.signature) == .strong)
        #expect(HDF5.recognize([UInt8](repeating: 0, count: 100) + HDF5.signature) == .no)
    }
}
