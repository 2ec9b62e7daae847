import Detectors
import Foundation
import ImageIO
import PeakKit
import Pipeline
import Testing

/// A stack of `n` frames of 48 x 40 with a few Gaussian spots each (different per frame).
private func spotStack(_ n: Int, seed: UInt64 = 3) -> [Image] {
    var state = seed
    func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
    return (0..<n).map { _ in
        var image = Image(width: 48, height: 40) { _, _ in Float(10 + next()) }
        for _ in 0..<3 {
            let cx = 6 + 36 * next(), cy = 6 + 28 * next()
            for y in 0..<40 { for x in 0..<48 {
                let d = (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)
                image[x, y] += Float(50 * exp(-d / 4))
            } }
        }
        return image
    }
}

/// A float32 NPY of any shape from frames (C order).
private func npy(_ frames: [Image], shape: [Int]) -> [UInt8] {
    NPY.encodeFloat32(shape: shape, values: frames.flatMap { $0.pixels })
}

@Suite struct StackDetection {
    /// Every frame of a 3-D NPY gives exactly the peaks it gives alone, with a frame column.
    @Test func threeDStackRowsEqualSingleFrameRuns() throws {
        let dir = try temporaryFolder()
        let frames = spotStack(5)
        let stack = dir.appendingPathComponent("stack.npy").path
        try Data(npy(frames, shape: [5, 40, 48])).write(to: URL(fileURLWithPath: stack))
        let r = try PeaksExecutable.run(["detect", stack, "--format", "csv"])
        #expect(r.status == 0, "\(r.stderr)")
        var lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.removeFirst() == "frame,x,y,value,prominence,birth_level,saddle_x,saddle_y,saddle_level,fitted")
        for (i, frame) in frames.enumerated() {
            let single = dir.appendingPathComponent("f\(i).npy").path
            try Data(NPY.encodeFloat32(frame)).write(to: URL(fileURLWithPath: single))
            let one = try PeaksExecutable.run(["detect", single, "--format", "csv"])
            let rows = one.stdout.split(separator: "\n").dropFirst().map { "\(i),\($0)" }
            #expect(!rows.isEmpty)
            #expect(lines.filter { $0.hasPrefix("\(i),") } == rows, "frame \(i)")
        }
    }

    /// 4-D data: frame, scan_y, scan_x columns; frame = scan_y * width + scan_x; JSON per frame.
    @Test func fourDScanHasScanColumnsAndJSON() throws {
        let dir = try temporaryFolder()
        let frames = spotStack(6, seed: 9)
        let scan = dir.appendingPathComponent("scan.npy").path
        try Data(npy(frames, shape: [2, 3, 40, 48])).write(to: URL(fileURLWithPath: scan))
        let out = dir.appendingPathComponent("t.csv").path
        let r = try PeaksExecutable.run(["detect", scan, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").dropFirst()
        for row in rows {
            let f = row.split(separator: ",").prefix(3).compactMap { Int($0) }
            #expect(f.count == 3 && f[0] == f[1] * 3 + f[2])
        }
        #expect(Set(rows.map { $0.split(separator: ",")[0] }).count == 6)
        let json = try PeaksExecutable.run(["detect", scan, "--format", "json", "--algo", "log"])
        let root = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(root["schema"] as? String == "peaks.stack/1")
        let entries = try #require(root["frames"] as? [[String: Any]])
        #expect(entries.map { $0["frame"] as? Int } == [0, 1, 2, 3, 4, 5])
        #expect(entries.map { $0["scan_x"] as? Int } == [0, 1, 2, 0, 1, 2])
        // --frames selects, and the frame column keeps the file's numbering.
        let some = try PeaksExecutable.run(["detect", scan, "--frames", "1::2", "--format", "csv"])
        #expect(Set(some.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",")[0] }) == ["1", "3", "5"])
    }

    /// The table does not depend on the number of threads (FrameStream delivers in order).
    @Test func threadCountDoesNotChangeResults() throws {
        let frames = spotStack(9, seed: 5)
        let source = try SelectedFrames(DecodedStack(frames))
        let detector = try builtinDetectors.require("log")
        let job = FrameDetection(detector: detector, parameters: try detector.resolveParameters([:]))
        var tables: [[Detection]] = []
        for threads in [1, 2, 5] {
            var got: [Detection] = []
            try job.run(over: source, threads: threads, deliver: { i, d in
                #expect(i == got.count)
                got.append(d)
            })
            tables.append(got)
        }
        #expect(tables[0] == tables[1] && tables[1] == tables[2])
        #expect(tables[0] == (try frames.map { try job.run($0) }))
    }
}

/// Frames held in memory, as a stack.
final class DecodedStack: FrameSource {
    let frames: [Image]
    let path = "memory"
    let formatName = "test"
    let layout: FrameLayout
    init(_ frames: [Image]) {
        self.frames = frames
        layout = FrameLayout(width: frames[0].width, height: frames[0].height, frameCount: frames.count, sampleType: "float32")
    }
    func readFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        _ = buffer.update(fromContentsOf: frames[index].pixels)
    }
}

@Suite struct Reliability {
    /// A forged header declaring (100000, 100000) float64 on a 200-byte file fails fast, in one
    /// line, without allocating.
    @Test func forgedNPYHeaderFailsFast() throws {
        let dir = try temporaryFolder()
        var bytes = NPY.headerBytes(descr: "<f8", shape: [100000, 100000])
        bytes += [UInt8](repeating: 0, count: 200 - bytes.count)
        let path = dir.appendingPathComponent("forged.npy").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let start = Date()
        let r = try PeaksExecutable.run(["detect", path, "-o", dir.appendingPathComponent("p.json").path])
        #expect(Date().timeIntervalSince(start) < 2)  // the process, start-up included
        #expect(r.status == 1 && r.stderr.contains("truncated data") && r.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("p.json").path))
        // The same check inside the library, timed without process start-up.
        let t0 = Date()
        #expect(throws: PeaksError.self) { _ = try ImageFormat.open(path) }
        #expect(Date().timeIntervalSince(t0) < 0.1)
    }

    /// Standard output that cannot be written is a one-line error (exit 1), not a crash.
    @Test func fullStandardOutputIsAnError() throws {
        for command in [["detect", "samples/lattice.png"], ["center", "samples/lattice.png"], ["algorithms"]] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "\"$0\" \"$@\" > /dev/full", PeaksExecutable.url.path] + command
            p.currentDirectoryURL = PeaksExecutable.packageRoot
            let err = Pipe()
            p.standardError = err
            try p.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 1, "\(command): \(text)")
            #expect(text.contains("No space left on device") && text.split(separator: "\n").count == 1, "\(command): \(text)")
        }
    }

    /// Non-regular inputs are refused at once.
    @Test func pipesAndDevicesAreRefused() throws {
        let dir = try temporaryFolder()
        let fifo = dir.appendingPathComponent("pipe").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let r = try PeaksExecutable.run(["detect", fifo])
        #expect(r.status == 1 && r.stderr.contains("FIFO"))
        let z = try PeaksExecutable.run(["detect", "/dev/zero"])
        #expect(z.status == 1 && z.stderr.contains("device"))
    }

    /// `center` on a 1 x 64 image used to exit 0 with symmetry 0: there is no room to test symmetry.
    @Test func centreOfAStripIsRefused() throws {
        let dir = try temporaryFolder()
        let strip = dir.appendingPathComponent("strip.npy").path
        try Data(NPY.encodeFloat32(Image(width: 64, height: 1) { x, _ in Float(x % 7) })).write(to: URL(fileURLWithPath: strip))
        let r = try PeaksExecutable.run(["center", strip])
        #expect(r.status == 1 && r.stderr.contains("no room") && r.stdout.isEmpty, "\(r.stderr)")
    }

    /// `match --debug-dir`: no folder is left when the run fails, and folder errors are one line.
    @Test func matchDebugFolderIsAllOrNothing() throws {
        let dir = try temporaryFolder()
        let image = dir.appendingPathComponent("i.npy").path
        try Data(NPY.encodeFloat32(Image(width: 32, height: 32) { x, y in Float((x * 5 + y * 3) % 17) })).write(to: URL(fileURLWithPath: image))
        let template = dir.appendingPathComponent("t.npy").path
        try Data(NPY.encodeFloat32(Image(width: 5, height: 5) { x, y in Float((x * 5 + y * 3) % 17) })).write(to: URL(fileURLWithPath: template))
        let debug = dir.appendingPathComponent("debug").path
        let r = try PeaksExecutable.run(["match", template, image, "--debug-dir", debug, "-o", dir.path + "/no/such/m.json"])
        #expect(r.status == 1 && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: debug))
        let deep = try PeaksExecutable.run(["match", template, image, "--debug-dir", dir.path + "/a/b/c"])
        #expect(deep.status == 1 && deep.stderr.split(separator: "\n").count == 1 && !deep.stderr.contains("NSError"), "\(deep.stderr)")
        let ok = try PeaksExecutable.run(["match", template, image, "--debug-dir", debug])
        #expect(ok.status == 0 && FileManager.default.fileExists(atPath: debug + "/correlation.png"))
    }

    /// A tiny positive min-dist used to trap on the cell index.
    @Test func tinyMinDistanceRuns() throws {
        // Whole-pixel positions (refine=none) are all distinct, so a 1e-20 px minimum distance
        // must keep every peak.
        let plain = try PeaksExecutable.run(["detect", "samples/lattice.png", "--format", "csv", "-p", "refine=none"])
        let tiny = try PeaksExecutable.run(["detect", "samples/lattice.png", "--format", "csv", "-p", "refine=none", "--min-dist", "1e-20"])
        #expect(tiny.status == 0 && tiny.stdout == plain.stdout)
    }

    /// Settings the image cannot support are refused before any work, naming the parameter.
    @Test func settingsBeyondTheImageAreRefused() throws {
        let dir = try temporaryFolder()
        let small = dir.appendingPathComponent("small.npy").path
        try Data(NPY.encodeFloat32(Image(width: 64, height: 64) { x, y in Float((x * 7 + y * 3) % 11) })).write(to: URL(fileURLWithPath: small))
        for (args, name) in [(["--algo", "log", "-p", "sigma=100"], "sigma"),
                             (["--algo", "high-symmetry", "-p", "background_sigma=100000", "--center", "32,32"], "background_sigma"),
                             (["--smooth", "1000"], "smooth")] {
            let start = Date()
            let r = try PeaksExecutable.run(["detect", small] + args)
            #expect(r.status == 1, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(name) && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            #expect(Date().timeIntervalSince(start) < 5)
        }
    }

    /// Outputs are all written or none: an output named like a folder fails the run before the
    /// peak list is renamed into place; very long names work (short temporary names).
    @Test func outputsAreAllOrNothing() throws {
        let dir = try temporaryFolder()
        let list = dir.appendingPathComponent("out.json").path
        let r = try PeaksExecutable.run(["detect", "samples/lattice.png", "-o", list, "--overlay", dir.path + "/o.png/"])
        #expect(r.status == 1 && r.stderr.contains("o.png/"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        let long = dir.appendingPathComponent(String(repeating: "p", count: 250) + ".json").path
        let ok = try PeaksExecutable.run(["detect", "samples/lattice.png", "-o", long])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == [URL(fileURLWithPath: long).lastPathComponent])
    }

    /// An interrupted stack run leaves neither the output nor its temporary file.
    @Test func interruptLeavesNoFiles() throws {
        let dir = try temporaryFolder()
        let frames = spotStack(1)
        let many = [Image](repeating: frames[0], count: 400)
        let stack = dir.appendingPathComponent("big.npy").path
        try Data(npy(many, shape: [400, 40, 48])).write(to: URL(fileURLWithPath: stack))
        let out = dir.appendingPathComponent("t.csv").path
        let p = Process()
        p.executableURL = PeaksExecutable.url
        p.arguments = ["detect", stack, "--algo", "log", "-o", out]
        try p.run()
        Thread.sleep(forTimeInterval: 0.5)
        p.interrupt()
        p.waitUntilExit()
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "big.npy" }
        if p.terminationStatus == 0 {
            #expect(left == ["t.csv"])  // finished before the signal: complete output
        } else {
            #expect(left.isEmpty, "left behind: \(left)")
        }
    }
}
