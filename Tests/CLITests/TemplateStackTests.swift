import Foundation
import Harness
import ImageIO
import PeakKit
import Pipeline
import Testing

/// A 4-D float32 NPY of the disc-scan frames (scan_y, scan_x, size, size).
private func writeDiscScan(_ dir: URL, scanWidth: Int = 5, scanHeight: Int = 3, size: Int = 32, radius: Double = 4) throws -> (String, DiscScan) {
    let g = try DiscScan(size: size, scanWidth: scanWidth, scanHeight: scanHeight, radius: radius)
    var bytes = NPY.float32Header(shape: [scanHeight, scanWidth, size, size])
    for i in 0..<g.frameCount { for v in g.frame(i) { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } } }
    let path = dir.appendingPathComponent("scan.npy").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return (path, g)
}

private func csvRows(_ text: String) -> [[String]] {
    text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
}

private func expectOneLine(_ r: CommandResult, code: Int32, containing: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status == code, "status \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
    #expect(r.stdout.isEmpty, sourceLocation: sourceLocation)
    #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(containing), "\(r.stderr)", sourceLocation: sourceLocation)
}

@Suite struct TemplateStackCommand {
    @Test func eachFrameOfAStackEqualsTheFrameAlone() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, g) = try writeDiscScan(dir)
        let stack = try PeaksExecutable.run(["detect", path, "--algo", "template", "-p", "radius=4", "--format", "csv"])
        #expect(stack.status == 0, "\(stack.stderr)")
        let rows = csvRows(stack.stdout)
        #expect(rows.first?.prefix(5) == ["frame", "scan_y", "scan_x", "x", "y"])
        #expect(rows.count == 1 + g.frameCount)
        for i in [0, 7, 14] {
            let frame = dir.appendingPathComponent("f\(i).npy").path
            try ImageFile.writeNPY(Image(width: 32, height: 32, pixels: g.frame(i)), to: frame)
            let alone = try PeaksExecutable.run(["detect", frame, "--algo", "template", "-p", "radius=4", "--format", "csv"])
            #expect(Array(rows[1 + i].dropFirst(3)) == csvRows(alone.stdout)[1], "frame \(i)")
            // Within the upsampling grid (1/20 px) of the truth.
            let c = g.centre(ofFrame: i)
            #expect(abs(Double(rows[1 + i][3])! - c.x) <= 0.03 && abs(Double(rows[1 + i][4])! - c.y) <= 0.03)
        }
    }

    @Test func threadCountDoesNotChangeResults() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, _) = try writeDiscScan(dir)
        let detector = try #require(builtinTemplate())
        for extra: [String: ParameterValue] in [[:], ["positions": .string("16,16;3,30")]] {
            var given: [String: ParameterValue] = ["radius": .real(4), "refine": .string("upsample-fit")]
            for (k, v) in extra { given[k] = v }
            let job = FrameDetection(detector: detector, parameters: try detector.resolveParameters(given))
            var results: [[Detection]] = []
            for threads in [1, 2, 3] {
                var all: [Detection] = []
                try job.run(over: try SelectedFrames(ImageFormat.open(path)), threads: threads, deliver: { _, d in all.append(d) })
                results.append(all)
            }
            #expect(results[0].count == 15 && results[0] == results[1] && results[1] == results[2])
        }
    }

    @Test func badTemplateSettingsAreOneLine() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, _) = try writeDiscScan(dir)
        expectOneLine(try PeaksExecutable.run(["detect", path, "--algo", "template", "-p", "num_peaks=0"]), code: 2, containing: "num_peaks")
        expectOneLine(try PeaksExecutable.run(["detect", path, "--algo", "template", "-p", "radius=0"]), code: 2, containing: "radius")
        expectOneLine(try PeaksExecutable.run(["detect", path, "--algo", "template", "-p", "radius=20"]), code: 1, containing: "radius")
        expectOneLine(try PeaksExecutable.run(["detect", path, "--algo", "template", "-p", "radius=9"]), code: 1, containing: "larger than the 32x32 frame")
        expectOneLine(try PeaksExecutable.run(["detect", path, "--algo", "template", "-p", "radius=4", "-p", "positions=40,3"]), code: 1, containing: "outside the 32x32 frame")
        expectOneLine(try PeaksExecutable.run(["detect", path, "--algo", "template", "-p", "radius=4", "-p", "positions=4;5"]), code: 1, containing: "positions")
        let zeros = dir.appendingPathComponent("zeros.npy").path
        try ImageFile.writeNPY(Image(width: 5, height: 5, repeating: 0), to: zeros)
        expectOneLine(try PeaksExecutable.run(["detect", path, "--algo", "template", "-p", "template=\(zeros)"]), code: 1, containing: "zeros")
        let out = dir.appendingPathComponent("out.csv").path
        _ = try PeaksExecutable.run(["detect", path, "--algo", "template", "-p", "radius=9", "-o", out])
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}

@Suite struct CenterAndRegisterStacks {
    @Test func centerGivesEveryFrame() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, g) = try writeDiscScan(dir)
        let map = dir.appendingPathComponent("map.png").path
        let r = try PeaksExecutable.run(["center", path, "--format", "csv", "--shift-map", map])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = csvRows(r.stdout)
        #expect(rows[0] == ["frame", "scan_y", "scan_x", "x", "y", "confidence", "rough_x", "rough_y", "subpixel_fell_back"])
        #expect(rows.count == 1 + g.frameCount)
        for i in 0..<g.frameCount {
            let c = g.centre(ofFrame: i)
            #expect(rows[1 + i][0] == String(i) && rows[1 + i][1] == String(i / 5) && rows[1 + i][2] == String(i % 5))
            #expect(abs(Double(rows[1 + i][3])! - c.x) < 0.1 && abs(Double(rows[1 + i][4])! - c.y) < 0.1, "frame \(i)")
        }
        #expect(FileManager.default.fileExists(atPath: map))
        expectOneLine(try PeaksExecutable.run(["center", path, "--max-lag", "100"]), code: 1, containing: "max-lag")
    }

    @Test func registerAgainstEachReference() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, g) = try writeDiscScan(dir)
        for reference in ["first", "mean", "7"] {
            let r = try PeaksExecutable.run(["register", path, "--reference", reference, "--upsample", "20", "--format", "csv"])
            #expect(r.status == 0, "\(r.stderr)")
            let rows = csvRows(r.stdout)
            #expect(rows[0] == ["frame", "scan_y", "scan_x", "dx", "dy", "error", "phase_difference", "pixel_dx", "pixel_dy"])
            #expect(rows.count == 1 + g.frameCount)
            if reference != "mean" {
                let ref = g.centre(ofFrame: reference == "first" ? 0 : 7)
                for i in 0..<g.frameCount {
                    // dx applied to the frame aligns it with the reference: dx = ref - centre.
                    let c = g.centre(ofFrame: i)
                    #expect(abs(Double(rows[1 + i][3])! - (ref.x - c.x)) <= 0.06 && abs(Double(rows[1 + i][4])! - (ref.y - c.y)) <= 0.06,
                            "\(reference) frame \(i): \(rows[1 + i])")
                }
            }
        }
        let json = try PeaksExecutable.run(["register", path, "--frames", "2:4"])
        #expect(json.stdout.contains("\"schema\": \"peaks.registration-stack/1\"") && json.stdout.contains("\"frame\": 3") && json.stdout.contains("\"shift_rc\""))
        expectOneLine(try PeaksExecutable.run(["register", path, "--reference", "99"]), code: 1, containing: "frame 99")
        expectOneLine(try PeaksExecutable.run(["register", path, "--upsample", "10000"]), code: 1, containing: "upsample")
        expectOneLine(try PeaksExecutable.run(["register", path, path, "--reference", "mean"]), code: 2, containing: "--reference")
    }
}

import Detectors
private func builtinTemplate() -> (any PeakDetector)? { builtinDetectors.detector(named: "template") }
