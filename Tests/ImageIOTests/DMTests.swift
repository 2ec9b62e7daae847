import Foundation
import ImageIO
import PeakKit
import Testing

@Suite("DM3/DM4")
struct DMTests {
    /// rosettasciio's test files: 2-D of every real data type (1 int16, 2 float32, 6 uint8,
    /// 7 int32, 9 int8, 10 uint16, 11 uint32, 12 float64, 14 bool, 23 RGBA) in DM3 and DM4,
    /// 3-D stacks, a StackBuilder stack and a calibrated STEM image.
    static var names: [String] {
        var out: [String] = []
        for code in [1, 2, 6, 7, 9, 10, 11, 12, 14, 23] {
            out += ["2D_test-\(code).dm3", "2D_test-\(code).dm4"]
        }
        return out + ["3D_test-1.dm3", "3D_test-1.dm4", "3D_test-10.dm4", "test_stackbuilder_imagestack.dm3", "test_STEM_image.dm3"]
    }

    @Test(arguments: names)
    func pixelsAndCalibrationsEqualRosettasciio(name: String) throws {
        let ref = try #require(try Fixtures.reference("dm")[name])
        let source = try ImageFormat.open(Fixtures.path("dm", name))
        #expect(source.formatName == (name.hasSuffix("dm3") ? "DM3" : "DM4"))
        #expect(source.layout.width == ref["width"] as? Int)
        #expect(source.layout.height == ref["height"] as? Int)
        #expect(source.layout.frameCount == ref["frames"] as? Int)
        try Fixtures.expectFramesEqualReference(source, format: "dm", name: name)
        // rosettasciio: scale = Scale, offset = -Origin * Scale, units = Units (x, y, frames).
        let axes = try #require(ref["axes"] as? [[String: Any]])
        for (k, axis) in ["x", "y", "frame"].prefix(axes.count).enumerated() {
            let scale = try #require(axes[k]["scale"] as? Double), offset = try #require(axes[k]["offset"] as? Double)
            let s = Fixtures.meta(source, "\(axis)_scale")?.double ?? 1
            let o = Fixtures.meta(source, "\(axis)_origin")?.double ?? 0
            #expect(abs(s - scale) <= 1e-12 * max(1, abs(scale)), "\(axis) scale \(s) vs \(scale)")
            #expect(abs(-o * s - offset) <= 1e-9 * max(1, abs(offset)), "\(axis) offset \(-o * s) vs \(offset)")
            let units: String
            if case let .string(u)? = Fixtures.meta(source, "\(axis)_units") { units = u } else { units = "" }
            #expect(units == axes[k]["units"] as? String ?? "")
        }
    }

    @Test func calibratedSTEMImage() throws {
        let source = try ImageFormat.open(Fixtures.path("dm", "test_STEM_image.dm3"))
        #expect(source.layout == FrameLayout(width: 68, height: 68, frameCount: 1, sampleType: "uint32"))
        #expect(Fixtures.meta(source, "x_units") == .string("nm"))
        #expect(Fixtures.meta(source, "dm_version") == .integer(3))
        let scale = try #require(Fixtures.meta(source, "x_scale")?.double)
        #expect(abs(scale - 0.24853801727294922) < 1e-12)
    }

    @Test func thumbnailIsSkipped() throws {
        // Every rosettasciio test file holds a thumbnail (ImageList entry 0) and the image.
        let source = try ImageFormat.open(Fixtures.path("dm", "2D_test-10.dm4"))
        #expect(Fixtures.meta(source, "image_index") == .integer(1))
        #expect(Fixtures.meta(source, "images_in_file") == .integer(1))
        #expect(source.layout.sampleType == "uint16")
    }

    @Test func complexDataIsRefused() throws {
        for name in ["2D_test-3.dm3", "2D_test-3.dm4"] {
            expectFileError(path: Fixtures.path("dm", name), contains: "complex") {
                _ = try ImageFormat.open(Fixtures.path("dm", name))
            }
        }
    }

    @Test func detectedByHeaderNotName() throws {
        let bytes = try Fixtures.bytes("dm", "2D_test-1.dm4")
        #expect(try ImageFormat.detect(InputFile(bytes: bytes, name: "noext")).name == "DM")
        var v5 = bytes
        v5[3] = 5
        expectFileError(path: "v.dm4", contains: "unsupported format") { _ = try ImageFormat.detect(InputFile(bytes: v5, name: "v.dm4")) }
        expectFileError(path: "v.dm4", contains: "version 5") { try Fixtures.openAndReadAll(v5, name: "v.dm4", format: .dm) }
    }

    @Test func everyTruncationThrows() throws {
        for name in ["2D_test-6.dm3", "3D_test-1.dm4"] {
            let bytes = try Fixtures.bytes("dm", name)
            // The files end with 8 zero bytes after the tag tree: cutting those leaves the tree whole.
            #expect(bytes.suffix(8).allSatisfy { $0 == 0 })
            // Every length in the header and first tags, then 2000 lengths spread over the rest.
            let end = bytes.count - 8
            let lengths = Array(0..<min(3000, end)) + (0..<2000).map { 3000 + $0 * (end - 3000) / 2000 }
            for n in lengths where n < end {
                #expect(throws: PeaksError.self, "\(name) cut to \(n) bytes") {
                    try Fixtures.openAndReadAll(Array(bytes.prefix(n)), name: name, format: .dm)
                }
            }
        }
    }

    @Test func randomDamageNeverCrashes() throws {
        var rng = SplitMix(state: 5)
        for name in ["2D_test-23.dm3", "3D_test-1.dm4", "test_stackbuilder_imagestack.dm3"] {
            let source = try Fixtures.bytes("dm", name)
            for trial in 0..<300 {
                var bytes = source
                for _ in 0..<(1 + rng.below(4)) {
                    bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
                }
                if trial % 6 == 0 { bytes = Array(bytes.prefix(1 + rng.below(bytes.count))) }
                expectNoCrash("\(name) trial \(trial)") { try Fixtures.openAndReadAll(bytes, name: name, format: .dm) }
            }
        }
    }
}
