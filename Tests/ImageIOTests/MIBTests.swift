import Foundation
import ImageIO
import PeakKit
import Testing

@Suite("MIB")
struct MIBTests {
    static let names = [
        "Single_1_Frame_CounterDepth_6_Rows_256.mib",      // U08
        "Single_1_Frame_CounterDepth_12_Rows_256.mib",     // U16
        "Single_1_Frame_CounterDepth_24_Rows_256.mib",     // U32
        "Single_9_Frame_CounterDepth_1_Rows_256RAW.mib",   // R64 1-bit, 9 frames
        "Quad_1_Frame_CounterDepth_1_Rows_256RAW.mib",     // R64 1-bit, 2x2 quad assembled
        "Quad_1_Frame_CounterDepth_6_Rows_256.mib",        // U08 quad 512x512
        "003_merlin_test_roi_sig256x64_nav4x2_hot_pixel_52x_39y.mib",  // U16 256x64 ROI, scan 4x2
    ]

    @Test(arguments: names)
    func pixelsEqualReference(name: String) throws {
        let ref = try #require(try Fixtures.reference("mib")[name])
        let source = try ImageFormat.open(Fixtures.path("mib", name))
        #expect(source.formatName == "MIB")
        #expect(source.layout.width == ref["width"] as? Int)
        #expect(source.layout.height == ref["height"] as? Int)
        #expect(source.layout.frameCount == ref["frames"] as? Int)
        #expect(Fixtures.meta(source, "mib_pixel_type") == .string(ref["type"] as? String ?? ""))
        try Fixtures.expectFramesEqualReference(source, format: "mib", name: name)
    }

    @Test func scanShapeComesFromTheHdrFile() throws {
        let name = "003_merlin_test_roi_sig256x64_nav4x2_hot_pixel_52x_39y.mib"
        let source = try ImageFormat.open(Fixtures.path("mib", name))
        // ScanX 4, ScanY 2 (and Frames per Trigger 4 of 8).
        #expect(source.layout.scan == ScanShape(height: 2, width: 4))
        #expect(Fixtures.meta(source, "scan_source") == .string("hdr"))
        #expect(Fixtures.meta(source, "counter_depth") == .integer(12))
        #expect(source.layout.sampleType == "uint16")
        // The same bytes without the .hdr file beside them: a plain stack of 8 frames.
        let memory = try Fixtures.openAndReadAll(try Fixtures.bytes("mib", name), name: "m.mib", format: .mib)
        #expect(memory?.layout.scan == nil)
        #expect(memory?.layout.frameCount == 8)
    }

    @Test func acquisitionHeaderRules() {
        let hdr = MIB.parseAcquisitionHeader(Array("HDR,\t\nFrames in Acquisition (Number):\t12\nFrames per Trigger (Number):\t4\nEnd\t\n".utf8))
        #expect(hdr["Frames in Acquisition (Number)"] == "12")
        #expect(MIB.scan(fromAcquisitionHeader: hdr, frames: 12) == ScanShape(height: 3, width: 4))
        #expect(MIB.scan(fromAcquisitionHeader: hdr, frames: 11) == nil)  // interrupted: no grid
        let single = MIB.parseAcquisitionHeader(Array("Frames in Acquisition (Number):\t9\nFrames per Trigger (Number):\t1\n".utf8))
        #expect(MIB.scan(fromAcquisitionHeader: single, frames: 9) == nil)
        let xy = MIB.parseAcquisitionHeader(Array("ScanX:\t3\nScanY:\t2\nFrames per Trigger (Number):\t2\nFrames in Acquisition (Number):\t6\n".utf8))
        #expect(MIB.scan(fromAcquisitionHeader: xy, frames: 6) == ScanShape(height: 2, width: 3))
    }

    @Test func detectedByMagic() throws {
        let bytes = try Fixtures.bytes("mib", "Single_1_Frame_CounterDepth_6_Rows_256.mib")
        #expect(try ImageFormat.detect(InputFile(bytes: bytes, name: "x.dat")).name == "MIB")
    }

    /// A small MIB file: `frames` frames of width x height, type U16 unless given.
    static func synthetic(width: Int = 8, height: Int = 4, frames: Int = 3, type: String = "U16", depth: Int = 12,
                          chips: Int = 1, layout: String = "1x1") -> [UInt8] {
        let bytesPerPixel = ["U08": 1, "U16": 2, "U32": 4, "U64": 8][type] ?? 1
        var out: [UInt8] = []
        for f in 0..<frames {
            func pad(_ v: Int, _ n: Int) -> String { let t = String(v); return String(repeating: "0", count: max(0, n - t.count)) + t }
            let text = "MQ1,\(pad(f + 1, 6)),00384,\(pad(chips, 2)),\(pad(width, 4)),\(pad(height, 4)),\(type),"
                + String(repeating: " ", count: max(0, 6 - layout.count)) + layout
                + ",01,2024-07-02 13:49:15.390226,0.001000,0,0,0,1.2E+1,MQ1A,2024-07-02T11:49:15.390226675Z,1000000ns,\(depth),"
            var header = Array(text.utf8)
            header += Array(repeating: 0x20, count: 384 - header.count)
            out += header
            for p in 0..<(width * height) {
                let v = UInt64(f * 1000 + p)
                for k in (0..<bytesPerPixel).reversed() { out.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
            }
        }
        return out
    }

    @Test func syntheticFramesAreBigEndianAndBottomUp() throws {
        let source = try #require(try Fixtures.openAndReadAll(Self.synthetic(), name: "s.mib", format: .mib))
        #expect(source.layout == FrameLayout(width: 8, height: 4, frameCount: 3, sampleType: "uint16"))
        let frame = try source.frame(2)
        // Stored row 3 (values 2024...2031) is row 0 of the image.
        #expect(Array(frame.pixels.prefix(8)) == (24..<32).map { Float(2000 + $0) })
        #expect(Array(frame.pixels.suffix(8)) == (0..<8).map { Float(2000 + $0) })
        for (type, last) in [("U08", Float(1007 & 0xFF)), ("U32", 1007), ("U64", 1007)] {
            let s = try #require(try Fixtures.openAndReadAll(Self.synthetic(type: type), name: "s.mib", format: .mib))
            #expect(try s.frame(1).pixels.last == last, "\(type)")
        }
    }

    @Test func aFileCutMidFrameIsRefusedAtOpen() throws {
        let bytes = try Fixtures.bytes("mib", "Single_9_Frame_CounterDepth_1_Rows_256RAW.mib")
        expectFileError(path: "c.mib", contains: "8 whole MIB frames") {
            let file = try InputFile(bytes: Array(bytes.dropLast(100)), name: "c.mib")
            _ = try ImageFormat.mib.open(file, OpenOptions())
        }
    }

    @Test func aDamagedFrameHeaderIsReportedWhenRead() throws {
        var bytes = Self.synthetic()
        let stride = 384 + 8 * 4 * 2
        bytes[2 * stride] = UInt8(ascii: "X")
        let source = try ImageFormat.mib.open(try InputFile(bytes: bytes, name: "d.mib"), OpenOptions())
        _ = try source.frame(1)
        expectFileError(path: "d.mib", contains: "frame 2 at byte \(2 * stride) does not start with 'MQ1'") { _ = try source.frame(2) }
    }

    @Test func unsupportedPixelTypesAreRefused() throws {
        expectFileError(path: "u.mib", contains: "U01") {
            try Fixtures.openAndReadAll(Self.synthetic(type: "U01"), name: "u.mib", format: .mib)
        }
        expectFileError(path: "u.mib", contains: "raw (R64) 24-bit") {
            try Fixtures.openAndReadAll(Self.synthetic(type: "R64", depth: 24), name: "u.mib", format: .mib)
        }
        expectFileError(path: "u.mib", contains: "counter depth 5") {
            try Fixtures.openAndReadAll(Self.synthetic(type: "R64", depth: 5), name: "u.mib", format: .mib)
        }
        expectFileError(path: "u.mib", contains: "Nx1") {
            try Fixtures.openAndReadAll(Self.synthetic(width: 256, type: "R64", depth: 1, chips: 2, layout: "Nx1"), name: "u.mib", format: .mib)
        }
        expectFileError(path: "u.mib", contains: "'F32'") {
            try Fixtures.openAndReadAll(Self.synthetic(type: "F32"), name: "u.mib", format: .mib)
        }
        expectFileError(path: "u.mib", contains: "not a Merlin MIB file") {
            try Fixtures.openAndReadAll(Array("MQ2,xxxxxxxxxxxxxxxx".utf8), name: "u.mib", format: .mib)
        }
    }

    @Test func everyTruncationThrows() throws {
        let bytes = Self.synthetic(frames: 2)
        let stride = bytes.count / 2
        for n in 0..<bytes.count where n != stride {  // a cut between frames leaves a valid 1-frame file
            #expect(throws: PeaksError.self, "cut to \(n) bytes") {
                try Fixtures.openAndReadAll(Array(bytes.prefix(n)), name: "t.mib", format: .mib)
            }
        }
        // A real raw quad file cut at 300 places.
        let quad = try Fixtures.bytes("mib", "Quad_1_Frame_CounterDepth_1_Rows_256RAW.mib")
        for k in 0..<300 {
            let n = k * (quad.count - 1) / 299
            #expect(throws: PeaksError.self, "quad cut to \(n) bytes") {
                try Fixtures.openAndReadAll(Array(quad.prefix(n)), name: "q.mib", format: .mib)
            }
        }
    }

    @Test func randomDamageNeverCrashes() throws {
        var rng = SplitMix(state: 3)
        let sources = [Self.synthetic(), Self.synthetic(width: 256, height: 4, frames: 2, type: "R64", depth: 6),
                       try Fixtures.bytes("mib", "Quad_1_Frame_CounterDepth_1_Rows_256RAW.mib")]
        for source in sources {
            for trial in 0..<300 {
                var bytes = source
                for _ in 0..<(1 + rng.below(4)) {
                    bytes[rng.below(min(bytes.count, 800))] = UInt8(truncatingIfNeeded: rng.next())
                }
                if trial % 5 == 0 { bytes = Array(bytes.prefix(1 + rng.below(bytes.count))) }
                expectNoCrash("trial \(trial)") { try Fixtures.openAndReadAll(bytes, name: "f.mib", format: .mib) }
            }
        }
    }
}
