import DetectorConformance
import Foundation
import Harness
import PeakKit
import Testing
@testable import Template

@Suite struct TemplateConformance {
    @Test func passesTheConformanceSuite() {
        // Gaussian spots of sigma 2: a Gaussian template, enough peaks for the seven spots.
        let failures = DetectorConformance.failures(
            of: TemplateDetector(), parameters: ["template": .string("gaussian"), "radius": .real(2), "num_peaks": .integer(7)])
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}

@Suite struct TemplateCorrelation {
    /// Hand-checked: a single bright pixel correlated with a 3x3 template whose zero-mean values
    /// are known gives c(d) = t(p - d): the maximum sits on the pixel, the correlation there is
    /// the template's centre value (times the spike minus the frame mean).
    @Test func spikeGivesTheTemplateBack() throws {
        var image = Image(width: 16, height: 12, repeating: 0)
        image[5, 7] = 10
        let s = TemplateDetector.Settings()
        var t = s
        t.template = "gaussian"; t.radius = 1; t.search = .value(1)
        let d = try TemplateDetector().detect(in: image, [
            "template": .string("gaussian"), "radius": .real(1), "search": .integer(1), "refine": .string("none")])
        #expect(d.peaks.count == 1)
        let p = try #require(d.peaks.first)
        #expect(p.x == 5 && p.y == 7)
        // t = g - mean(g) on the 3x3 box, g = exp(-r^2 / (2 * 0.5^2)).
        let g = (-1...1).flatMap { y in (-1...1).map { x in exp(-Double(x * x + y * y) / 0.5) } }
        let mean = g.reduce(0, +) / 9
        let meanFrame = 10.0 / Double(16 * 12)
        // c(p) = sum_x (f(x) - mean f) t(x - p) = 10 * t(0) (the mean term vanishes: sum t = 0).
        #expect(abs(p["correlation"]! - 10 * (g[4] - mean)) < 1e-9, "\(p["correlation"]!) vs \(10 * (g[4] - mean)), mean \(meanFrame)")
        _ = t
    }

    /// The upsampled DFT evaluates the same correlation as the inverse FFT at whole pixels.
    @Test func upsamplingAgreesWithTheMapOnThePixelGrid() throws {
        let scan = try DiscScan(size: 32, scanWidth: 3, scanHeight: 3, radius: 4)
        let image = Image(width: 32, height: 32, pixels: scan.frame(4))
        let refined = try TemplateDetector().detect(in: image, ["radius": .real(4), "refine": .string("upsample"), "upsample": .integer(2)])
        let whole = try TemplateDetector().detect(in: image, ["radius": .real(4), "refine": .string("none")])
        let a = try #require(refined.peaks.first), b = try #require(whole.peaks.first)
        #expect(abs(a.x - b.x) <= 0.5 && abs(a.y - b.y) <= 0.5)
    }
}

@Suite struct TemplateAccuracy {
    /// RMS error (px) of the disc centre over a scan, for one refinement.
    func rms(_ refine: String, extra: [String: ParameterValue] = [:], frames: Int = 60) throws -> Double {
        let scan = try DiscScan(size: 64, scanWidth: 45, scanHeight: 12, radius: 6)
        var sum = 0.0
        var given: [String: ParameterValue] = ["radius": .real(6), "refine": .string(refine)]
        for (k, v) in extra { given[k] = v }
        let params = try TemplateDetector().resolveParameters(given)
        let step = scan.frameCount / frames
        for i in stride(from: 0, to: scan.frameCount, by: step) {
            let image = Image(width: 64, height: 64, pixels: scan.frame(i))
            let d = try TemplateDetector().detect(in: image, parameters: params)
            let p = try #require(d.peaks.first)
            let c = scan.centre(ofFrame: i)
            sum += (p.x - c.x) * (p.x - c.x) + (p.y - c.y) * (p.y - c.y)
        }
        return (sum / Double(frames)).squareRoot()
    }

    @Test func comWithinBlobfinderError() throws {
        let e = try rms("com")
        #expect(e <= 0.08, "com RMS \(e)")
    }

    @Test func upsampleWithinBlobfinderError() throws {
        let e = try rms("upsample")
        #expect(e <= 0.03, "upsample RMS \(e)")
        let f = try rms("upsample-fit")
        #expect(f <= 0.01, "upsample-fit RMS \(f)")
    }
}

/// `positions`: the search near given positions (blobfinder's `process_frames_fast`).
@Suite struct TemplateNear {
    let scan = try! DiscScan(size: 64, scanWidth: 45, scanHeight: 12, radius: 6)

    /// Each frame's disc found near the frame centre is where the whole-frame search puts it, to
    /// a few hundredths of a pixel (the crop is periodic, the frame too, so the maps differ a
    /// little), and close to the truth.
    @Test func agreesWithTheWholeFrameSearch() throws {
        for refine in ["com", "upsample"] {
            let whole = try TemplateDetector().resolveParameters(["radius": .real(6), "refine": .string(refine)])
            let near = try TemplateDetector().resolveParameters(["radius": .real(6), "refine": .string(refine), "positions": .string("32,32")])
            var sum = 0.0
            let frames = stride(from: 0, to: scan.frameCount, by: 9)
            for i in frames {
                let image = Image(width: 64, height: 64, pixels: scan.frame(i))
                let a = try #require(try TemplateDetector().detect(in: image, parameters: whole).peaks.first)
                let b = try #require(try TemplateDetector().detect(in: image, parameters: near).peaks.first)
                #expect(abs(a.x - b.x) <= 0.06 && abs(a.y - b.y) <= 0.06, "\(refine) frame \(i): \(a.x),\(a.y) vs \(b.x),\(b.y)")
                #expect(abs(a["pixel_x"]! - b["pixel_x"]!) <= 1 && abs(a["pixel_y"]! - b["pixel_y"]!) <= 1)
                let c = scan.centre(ofFrame: i)
                sum += (b.x - c.x) * (b.x - c.x) + (b.y - c.y) * (b.y - c.y)
            }
            let rms = (sum / Double(frames.underestimatedCount)).squareRoot()
            #expect(rms <= (refine == "com" ? 0.08 : 0.03), "\(refine) near RMS \(rms)")
        }
    }

    /// One match per position (crops partly outside the frame included: the match is on a frame
    /// pixel), whatever `num_peaks`.
    @Test func oneMatchPerPosition() throws {
        let image = Image(width: 64, height: 64, pixels: scan.frame(100))
        let d = try TemplateDetector().detect(in: image, [
            "radius": .real(6), "positions": .string(" 32,32 ; 0,0;63, 5"), "num_peaks": .integer(7), "refine": .string("com")])
        #expect(d.peaks.count == 3)
        #expect(d.peaks.allSatisfy { $0["pixel_x"]! >= 0 && $0["pixel_x"]! < 64 && $0["pixel_y"]! >= 0 && $0["pixel_y"]! < 64 && $0["correlation"]!.isFinite })
        #expect(d.peaks.contains { abs($0.x - scan.centre(ofFrame: 100).x) < 0.1 && abs($0.y - scan.centre(ofFrame: 100).y) < 0.1 })
    }

    /// The correlation reported is the crop's periodic correlation with the zero-mean template
    /// (direct sum; the crop's pixel (search, search) is the position).
    @Test func correlationIsTheCropsDirectSum() throws {
        let image = Image(width: 64, height: 64, pixels: scan.frame(33))
        let d = try TemplateDetector().detect(in: image, ["radius": .real(3), "search": .integer(6), "positions": .string("30,33"), "refine": .string("none")])
        let p = try #require(d.peaks.first)
        let box = try TemplateShapes.builtin("disc", radius: 3, innerRadius: 1.5, sigma: 1.5, search: 6)
        let side = 12, ox = 30 - 6, oy = 33 - 6
        var crop = [Double](repeating: 0, count: side * side)
        for y in 0..<side { for x in 0..<side { crop[y * side + x] = Double(image[ox + x, oy + y]) } }
        let mean = crop.reduce(0, +) / Double(crop.count)
        let dx = Int(p.x) - ox, dy = Int(p.y) - oy
        var c = 0.0
        for ty in 0..<box.height {
            for tx in 0..<box.width {
                let x = ((dx + tx - box.originX) % side + side) % side, y = ((dy + ty - box.originY) % side + side) % side
                c += (crop[y * side + x] - mean) * box.values[ty * box.width + tx]
            }
        }
        #expect(abs(p["correlation"]! - c) <= 1e-9 * abs(c), "\(p["correlation"]!) vs \(c)")
    }

    @Test func refusesBadPositions() throws {
        let image = Image(width: 64, height: 64, pixels: scan.frame(0))
        for bad in ["32", "32,x", "32,32;", "64,10", "-1,5", "1.5,2"] {
            #expect(throws: PeaksError.self, "\(bad)") { try TemplateDetector().detect(in: image, ["radius": .real(6), "positions": .string(bad)]) }
        }
    }
}

@Suite struct TemplateInputs {
    @Test func refusesTemplatesTheFrameCannotHold() throws {
        let image = Image(width: 20, height: 20) { x, y in Float(x + y) }
        #expect(throws: PeaksError.self) { try TemplateDetector().detect(in: image, ["radius": .real(11)]) }
        #expect(throws: PeaksError.self) { try TemplateDetector().detect(in: image, ["radius": .real(6)]) }  // box 25 > 20
        #expect(throws: PeaksError.self) { try TemplateDetector().resolveParameters(["num_peaks": .integer(0)]) }
        #expect(throws: PeaksError.self) { try TemplateDetector().resolveParameters(["radius": .real(0)]) }
        #expect(throws: PeaksError.self) {
            try TemplateDetector().detect(in: image, ["template": .string("ring"), "radius": .real(3), "inner_radius": .real(4)])
        }
    }

    @Test func refusesFlatOrMissingTemplateFiles() throws {
        let image = Image(width: 20, height: 20) { x, y in Float(x * y % 7) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peaks-template-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let zeros = dir.appendingPathComponent("zeros.npy").path
        try Data(NPYTestBytes.float32(width: 5, height: 5, value: 0)).write(to: URL(fileURLWithPath: zeros))
        let nan = dir.appendingPathComponent("nan.npy").path
        try Data(NPYTestBytes.float32(width: 5, height: 5, value: .nan)).write(to: URL(fileURLWithPath: nan))
        for path in [zeros, nan, dir.appendingPathComponent("missing.npy").path] {
            #expect(throws: PeaksError.self) { try TemplateDetector().detect(in: image, ["template": .string(path)]) }
        }
        // A real template file is found where it was planted.
        let spot = dir.appendingPathComponent("spot.npy").path
        try Data(NPYTestBytes.float32(width: 5, height: 5, values: (0..<25).map { i in i == 12 ? 5 : (i % 2 == 0 ? 1 : 0) }))
            .write(to: URL(fileURLWithPath: spot))
        var planted = Image(width: 20, height: 20, repeating: 0)
        for y in 0..<5 { for x in 0..<5 { planted[8 + x, 6 + y] = (y * 5 + x) == 12 ? 5 : ((y * 5 + x) % 2 == 0 ? 1 : 0) } }
        let d = try TemplateDetector().detect(in: planted, ["template": .string(spot), "refine": .string("none")])
        #expect(d.peaks.first.map { $0.x == 10 && $0.y == 8 } == true)
    }
}

/// Minimal NPY bytes for the tests (float32, C order).
enum NPYTestBytes {
    static func float32(width: Int, height: Int, value: Float) -> [UInt8] {
        float32(width: width, height: height, values: [Float](repeating: value, count: width * height))
    }
    static func float32(width: Int, height: Int, values: [Float]) -> [UInt8] {
        var dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(height), \(width)), }"
        while (10 + dict.count + 1) % 64 != 0 { dict += " " }
        dict += "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(dict.count & 0xff), UInt8(dict.count >> 8)]
        out += Array(dict.utf8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        return out
    }
}
