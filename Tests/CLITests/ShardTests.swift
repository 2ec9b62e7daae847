import Foundation
import Correlation
import ImageIO
import PeakKit
import Pipeline
import Testing

/// A small stack with spots on noise, deterministic: `frames` frames of 40 x 32.
private func stackValues(frames: Int, seed: UInt64 = 7) -> (shape: [Int], values: [Double]) {
    let w = 40, h = 32
    var state = seed
    func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
    var values = [Double](repeating: 0, count: frames * w * h)
    for f in 0..<frames {
        for i in 0..<(w * h) { values[f * w * h + i] = 100 + 6 * (next() - 0.5) }
        for _ in 0..<4 {
            let cx = 3 + next() * Double(w - 6), cy = 3 + next() * Double(h - 6)
            for y in 0..<h {
                for x in 0..<w {
                    let d = (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)
                    values[f * w * h + y * w + x] += 60 * exp(-d / 6)
                }
            }
        }
    }
    return ([frames, h, w], values)
}

/// Writes `stack.npy` (frames x 32 x 40) into `folder`.
private func writeStack(_ folder: URL, frames: Int) throws {
    let (shape, values) = stackValues(frames: frames)
    try Data(NPY.encodeFloat64(shape: shape, values: values)).write(to: folder.appendingPathComponent("stack.npy"))
}

/// Writes the same frames as single images `frame-00.npy`, ... into `folder/files`.
private func writeFiles(_ folder: URL, frames: Int) throws {
    let (shape, values) = stackValues(frames: frames)
    let dir = folder.appendingPathComponent("files")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let n = shape[1] * shape[2]
    for f in 0..<frames {
        let name = String(format: "frame-%02d.npy", f)
        try Data(NPY.encodeFloat64(shape: [shape[1], shape[2]], values: Array(values[(f * n)..<((f + 1) * n)])))
            .write(to: dir.appendingPathComponent(name))
    }
}

private func bytes(_ folder: URL, _ name: String) throws -> Data { try Data(contentsOf: folder.appendingPathComponent(name)) }

@Suite struct ShardArithmeticTests {
    @Test func blocksAreContiguousAndTheFirstOnesLonger() throws {
        // Hand-computed: 10 frames in 4 shards: 3, 3, 2, 2.
        #expect((0..<4).map { Shard.block($0, of: 4, frames: 10) } == [0..<3, 3..<6, 6..<8, 8..<10])
        // 10 in 3: 4, 3, 3.
        #expect((0..<3).map { Shard.block($0, of: 3, frames: 10) } == [0..<4, 4..<7, 7..<10])
        // 3 in 5: 1, 1, 1, then two empty shards.
        #expect((0..<5).map { Shard.block($0, of: 5, frames: 3) } == [0..<1, 1..<2, 2..<3, 3..<3, 3..<3])
        // 262144 in 64: 4096 each; 7 in 1: all.
        #expect(Shard.block(63, of: 64, frames: 262_144) == 258_048..<262_144)
        #expect(Shard.block(0, of: 1, frames: 7) == 0..<7)
        #expect(try Shard(parsing: "2/4").frames(of: 10) == 6..<8)
    }

    @Test func everyFrameInExactlyOneShard() {
        for total in [1, 2, 5, 17, 100] {
            for n in 1...9 {
                let blocks = (0..<n).map { Shard.block($0, of: n, frames: total) }
                #expect(blocks.first!.lowerBound == 0 && blocks.last!.upperBound == total)
                for i in 1..<n { #expect(blocks[i].lowerBound == blocks[i - 1].upperBound) }
                #expect(blocks.map(\.count).max()! - blocks.map(\.count).min()! <= 1)
            }
        }
    }

    @Test(arguments: ["4/4", "-1/4", "1/0", "a/b", "3", "1/2/3", ""])
    func badShardsAreRefused(_ text: String) {
        #expect(throws: PeaksError.self) { try Shard(parsing: text) }
    }

    @Test func badShardOptionIsAUsageError() throws {
        let dir = try temporaryFolder()
        try writeStack(dir, frames: 3)
        let r = try PeaksExecutable.run(["detect", "stack.npy", "--shard", "4/4", "-o", "a.csv"], in: dir)
        #expect(r.status == 2 && r.stderr.contains("--shard"))
        let noOutput = try PeaksExecutable.run(["detect", "stack.npy", "--shard", "0/4"], in: dir)
        #expect(noOutput.status == 2 && noOutput.stderr.contains("-o"))
    }
}

@Suite struct ShardMergeTests {
    /// The single run's table equals, byte for byte, the merge of N shards given in `order`.
    @Test(arguments: [("csv", 4, [2, 0, 3, 1]), ("json", 4, [3, 1, 0, 2]), ("csv", 3, [1, 2, 0]), ("json", 3, [0, 2, 1])])
    func mergeEqualsSingleRun(_ format: String, _ n: Int, _ order: [Int]) throws {
        let dir = try temporaryFolder()
        try writeStack(dir, frames: 10)
        let single = try PeaksExecutable.run(["detect", "stack.npy", "-o", "single.\(format)"], in: dir)
        #expect(single.status == 0, "\(single.stderr)")
        for i in 0..<n {
            let r = try PeaksExecutable.run(["detect", "stack.npy", "--shard", "\(i)/\(n)", "-o", "part-\(i).\(format)"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("part-\(i).\(format).manifest.json").path))
        }
        let merge = try PeaksExecutable.run(["merge"] + order.map { "part-\($0).\(format)" } + ["-o", "merged.\(format)"], in: dir)
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(try bytes(dir, "merged.\(format)") == bytes(dir, "single.\(format)"))
        if format == "json" {
            // A shard's table is a complete document by itself.
            let object = try JSONSerialization.jsonObject(with: bytes(dir, "part-1.json")) as? [String: Any]
            #expect((object?["frames"] as? [Any])?.count == Shard.block(1, of: n, frames: 10).count)
        }
    }

    @Test func manifestsGlobAndEmptyShards() throws {
        // 3 frames in 5 shards: two empty shards; merge given a glob matching tables and manifests.
        let dir = try temporaryFolder()
        try writeStack(dir, frames: 3)
        #expect(try PeaksExecutable.run(["detect", "stack.npy", "-o", "single.json"], in: dir).status == 0)
        for i in 0..<5 {
            let r = try PeaksExecutable.run(["detect", "stack.npy", "--shard", "\(i)/5", "-o", "p\(i).json"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let merge = try PeaksExecutable.run(["merge", "p*", "-o", "merged.json"], in: dir)
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(try bytes(dir, "merged.json") == bytes(dir, "single.json"))
    }

    struct Refusal: CustomTestStringConvertible, Sendable {
        let name: String
        /// Prepares the folder (4 good CSV shards part-0..3 exist) and returns merge's arguments.
        let arguments: @Sendable (URL) throws -> [String]
        /// Text the one-line error must contain.
        let mentions: String
        var testDescription: String { name }
    }

    static let refusals: [Refusal] = [
        Refusal(name: "missing", arguments: { _ in ["part-0.csv", "part-1.csv", "part-3.csv"] }, mentions: "shard 2/4: missing"),
        Refusal(name: "duplicated (a copy)", arguments: { dir in
            for suffix in ["", ".manifest.json"] {
                try FileManager.default.copyItem(
                    at: dir.appendingPathComponent("part-2.csv" + suffix), to: dir.appendingPathComponent("copy.csv" + suffix))
            }
            return ["part-0.csv", "part-1.csv", "part-2.csv", "part-3.csv", "copy.csv"]
        }, mentions: "copy.csv: duplicates shard 2/4"),
        Refusal(name: "duplicated (same path)", arguments: { _ in ["part-0.csv", "part-1.csv", "part-2.csv", "part-3.csv", "part-1.csv"] }, mentions: "part-1.csv: given twice"),
        Refusal(name: "foreign (other parameters)", arguments: { dir in
            let r = try PeaksExecutable.run(["detect", "stack.npy", "--shard", "1/4", "--min-dist", "3", "-o", "other.csv"], in: dir)
            #expect(r.status == 0)
            return ["part-0.csv", "other.csv", "part-2.csv", "part-3.csv"]
        }, mentions: "other.csv: a foreign shard"),
        Refusal(name: "foreign (other input)", arguments: { dir in
            try FileManager.default.copyItem(at: dir.appendingPathComponent("stack.npy"), to: dir.appendingPathComponent("b.npy"))
            let r = try PeaksExecutable.run(["detect", "b.npy", "--shard", "3/4", "-o", "other.csv"], in: dir)
            #expect(r.status == 0)
            return ["part-0.csv", "part-1.csv", "part-2.csv", "other.csv"]
        }, mentions: "other.csv: a foreign shard"),
        Refusal(name: "corrupt table (one byte)", arguments: { dir in
            let url = dir.appendingPathComponent("part-2.csv")
            var data = try Data(contentsOf: url)
            data[data.count - 3] = data[data.count - 3] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
            try data.write(to: url)
            return ["part-0.csv", "part-1.csv", "part-2.csv", "part-3.csv"]
        }, mentions: "part-2.csv: corrupt"),
        Refusal(name: "truncated table", arguments: { dir in
            let url = dir.appendingPathComponent("part-3.csv")
            try Data(try Data(contentsOf: url).prefix(40)).write(to: url)
            return ["part-0.csv", "part-1.csv", "part-2.csv", "part-3.csv"]
        }, mentions: "part-3.csv: corrupt"),
        Refusal(name: "corrupt manifest", arguments: { dir in
            try Data("{\"schema\": ".utf8).write(to: dir.appendingPathComponent("part-0.csv.manifest.json"))
            return ["part-0.csv", "part-1.csv", "part-2.csv", "part-3.csv"]
        }, mentions: "part-0.csv: its manifest"),
        Refusal(name: "no manifest", arguments: { dir in
            try FileManager.default.removeItem(at: dir.appendingPathComponent("part-1.csv.manifest.json"))
            return ["part-0.csv", "part-1.csv", "part-2.csv", "part-3.csv"]
        }, mentions: "part-1.csv: no manifest"),
    ]

    @Test(arguments: refusals)
    func mergeRefusesWithOneLineAndNoOutput(_ c: Refusal) throws {
        let dir = try temporaryFolder()
        try writeStack(dir, frames: 10)
        for i in 0..<4 {
            #expect(try PeaksExecutable.run(["detect", "stack.npy", "--shard", "\(i)/4", "-o", "part-\(i).csv"], in: dir).status == 0)
        }
        let arguments = try c.arguments(dir)
        let before = files(in: dir)
        let r = try PeaksExecutable.run(["merge"] + arguments + ["-o", "merged.csv"], in: dir)
        #expect(r.status == 1, "\(c.name): \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(c.mentions), "\(c.name): \(r.stderr)")
        #expect(files(in: dir) == before, "\(c.name): merge left files behind")
    }
}

@Suite struct FileListStackTests {
    @Test func globStackHasAFileColumnAndPerFrameRowsEqualSingleRuns() throws {
        let dir = try temporaryFolder()
        try writeFiles(dir, frames: 6)
        let r = try PeaksExecutable.run(["detect", "files/frame-*.npy", "-o", "list.csv"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let table = String(decoding: try bytes(dir, "list.csv"), as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(table[0].hasPrefix("frame,file,x,y,value,"))
        for f in 0..<6 {
            let name = String(format: "files/frame-%02d.npy", f)
            let alone = try PeaksExecutable.run(["detect", name, "--format", "csv"], in: dir)
            #expect(alone.status == 0)
            let rows = table.dropFirst().filter { $0.hasPrefix("\(f),\(name),") }.map { String($0.dropFirst("\(f),\(name),".count)) }
            let expected = alone.stdout.split(separator: "\n").dropFirst().map(String.init)
            #expect(!expected.isEmpty && rows == expected, "frame \(f)")
        }
        // Several paths in any order give the same table (frames are the files in sorted order).
        let listed = try PeaksExecutable.run(
            ["detect", "-o", "listed.csv"] + [3, 0, 5, 1, 4, 2].map { String(format: "files/frame-%02d.npy", $0) }, in: dir)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(try bytes(dir, "listed.csv") == bytes(dir, "list.csv"))
    }

    @Test func fileListShardsMerge() throws {
        let dir = try temporaryFolder()
        try writeFiles(dir, frames: 7)
        #expect(try PeaksExecutable.run(["detect", "files/*.npy", "-o", "single.json"], in: dir).status == 0)
        for i in 0..<3 {
            let r = try PeaksExecutable.run(["detect", "files/*.npy", "--shard", "\(i)/3", "-o", "s\(i).json"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let merge = try PeaksExecutable.run(["merge", "s?.json", "-o", "merged.json"], in: dir)
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(try bytes(dir, "merged.json") == bytes(dir, "single.json"))
        let text = String(decoding: try bytes(dir, "single.json"), as: UTF8.self)
        #expect(text.contains("\"path\": \"files/*.npy\"") && text.contains("\"file\": \"files/frame-06.npy\""))
    }

    @Test func oddFilesAreRefusedNamingThem() throws {
        let dir = try temporaryFolder()
        try writeFiles(dir, frames: 3)
        try Data(NPY.encodeFloat64(shape: [5, 5], values: [Double](repeating: 1, count: 25)))
            .write(to: dir.appendingPathComponent("files/frame-99.npy"))
        let odd = try PeaksExecutable.run(["detect", "files/*.npy", "--shard", "0/1", "-o", "t.csv"], in: dir)
        #expect(odd.status == 1 && odd.stderr.contains("frame-99.npy") && odd.stderr.contains("5x5"), "\(odd.stderr)")
        // A failed shard leaves neither a table nor a manifest.
        #expect(!files(in: dir).contains { $0.hasPrefix("t.csv") || $0.hasPrefix(".peaks") })
        try writeStack(dir, frames: 3)
        let multi = try PeaksExecutable.run(["detect", "files/frame-00.npy", "stack.npy", "-o", "t.csv"], in: dir)
        #expect(multi.status == 1 && multi.stderr.contains("stack.npy: holds 3 frames"), "\(multi.stderr)")
        let none = try PeaksExecutable.run(["detect", "nothing/*.npy"], in: dir)
        #expect(none.status == 1 && none.stderr.contains("matches no file"))
    }
}

@Suite struct CenterRegisterShardTests {
    /// `center` and `register` on stacks shard and merge like `detect`.
    @Test(arguments: [("center", "csv", 3), ("register", "json", 4)])
    func shardsMergeToTheSingleRun(_ command: String, _ format: String, _ n: Int) throws {
        let dir = try temporaryFolder()
        try writeStack(dir, frames: 7)
        let single = try PeaksExecutable.run([command, "stack.npy", "-o", "single.\(format)"], in: dir)
        #expect(single.status == 0, "\(single.stderr)")
        for i in (0..<n).reversed() {
            let r = try PeaksExecutable.run([command, "stack.npy", "--shard", "\(i)/\(n)", "-o", "part-\(i).\(format)"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let merge = try PeaksExecutable.run(["merge", "part-*.\(format)", "-o", "merged.\(format)"], in: dir)
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(try bytes(dir, "merged.\(format)") == bytes(dir, "single.\(format)"))
        // A detect shard is foreign to a center/register run.
        #expect(try PeaksExecutable.run(["detect", "stack.npy", "--shard", "0/\(n)", "-o", "d.\(format)"], in: dir).status == 0)
        let foreign = try PeaksExecutable.run(["merge", "d.\(format)"] + (1..<n).map { "part-\($0).\(format)" } + ["-o", "x.\(format)"], in: dir)
        #expect(foreign.status == 1 && foreign.stderr.contains("foreign"), "\(foreign.stderr)")
    }
}

@Suite struct KilledShardTests {
    /// A shard killed mid-run (SIGTERM: temporaries removed; SIGKILL: temporaries stay) never
    /// leaves a table or manifest under the shard's names, so it cannot pass for a finished shard.
    @Test(arguments: [SIGTERM, SIGKILL])
    func killedShardLeavesNoShard(_ signal: Int32) throws {
        let dir = try temporaryFolder()
        try writeStack(dir, frames: 3000)
        let process = Process()
        process.executableURL = PeaksExecutable.url
        process.arguments = ["detect", "stack.npy", "--shard", "0/1", "-o", "part-0.csv"]
        process.currentDirectoryURL = dir
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait for the temporaries (the run has started writing), then kill it.
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning, Date() < deadline, !files(in: dir).contains(where: { $0.hasPrefix(".peaks-") }) {
            usleep(2000)
        }
        let wasRunning = process.isRunning
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        guard wasRunning, process.terminationReason == .uncaughtSignal || process.terminationStatus == 128 + signal else {
            Issue.record("the shard finished before it could be killed (make the stack longer): running \(wasRunning), status \(process.terminationStatus), reason \(process.terminationReason == .exit ? "exit" : "signal")")
            return
        }
        let left = files(in: dir)
        #expect(!left.contains("part-0.csv") && !left.contains("part-0.csv.manifest.json"), "\(left)")
        if signal == SIGTERM { #expect(left == ["stack.npy"], "SIGTERM left \(left)") }
        let merge = try PeaksExecutable.run(["merge", "part-0.csv", "-o", "m.csv"], in: dir)
        #expect(merge.status == 1 && !files(in: dir).contains("m.csv"))
    }
}

/// Settings measured from the data (`smooth=auto`, `lattice=auto`) are measured once per stack,
/// from the frames `StackSampling` picks, and recorded in the table; every frame is then run with
/// them, so a frame of the stack equals the frame alone with the recorded settings.
@Suite struct StackResolvedSettingsTests {
    /// Five 64 x 64 frames: spots of sigma 1.5 px in frames 0, 2, 4 and of sigma 3 px in 1 and 3,
    /// on noise. The stack's spot scale is the lower median of the five frames' own.
    func writeMixedStack(_ dir: URL) throws -> [Image] {
        var state: UInt64 = 3
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        var frames: [Image] = []
        for f in 0..<5 {
            let sigma = f % 2 == 0 ? 1.5 : 3.0
            var image = Image(width: 64, height: 64, repeating: 0)
            for i in 0..<image.count { image.pixels[i] = Float(100 + 4 * (next() - 0.5)) }
            for (cx, cy) in [(16.3, 15.8), (47.6, 16.2), (15.9, 48.4), (48.2, 47.7)] {
                for y in 0..<64 { for x in 0..<64 {
                    let d = (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)
                    image.pixels[y * 64 + x] += Float(50 * exp(-d / (2 * sigma * sigma)))
                } }
            }
            frames.append(image)
        }
        try Data(NPY.encodeFloat64(shape: [5, 64, 64], values: frames.flatMap { $0.pixels.map(Double.init) }))
            .write(to: dir.appendingPathComponent("mixed.npy"))
        for (i, f) in frames.enumerated() { try ImageFile.writeNPY(f, to: dir.appendingPathComponent("f\(i).npy").path) }
        return frames
    }

    @Test func stackRecordsItsSettingsAndEveryFrameEqualsItAloneWithThem() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let frames = try writeMixedStack(dir)
        let r = try PeaksExecutable.run(["detect", "mixed.npy", "--format", "json", "-o", "stack.json"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: bytes(dir, "stack.json")) as? [String: Any])
        let parameters = try #require(doc["parameters"] as? [String: Any])
        let smooth = try #require(parameters["smooth"] as? Double, "smooth is resolved to a number, got \(String(describing: parameters["smooth"]))")
        let lattice = try #require(parameters["lattice"] as? String)
        #expect(lattice == "none")

        // Independent of the CLI: the lower median of the frames' own spot scales.
        var own = try frames.map { try #require(ContentScale.analyse($0, mask: Mask(width: 64, height: 64)).spotSigma) }
        #expect(Set(own).count == 2, "the two spot sizes give two scales: \(own)")
        own.sort()
        #expect(smooth == own[(own.count - 1) / 2])

        // Each frame: the stack's rows are the frame alone with the recorded settings, and a
        // frame whose own scale differs gives other peaks alone with smooth=auto.
        let table = try PeaksExecutable.run(["detect", "mixed.npy", "--format", "csv"], in: dir)
        let rows = table.stdout.split(separator: "\n").dropFirst().map(String.init)
        for f in 0..<5 {
            let fixed = try PeaksExecutable.run(
                ["detect", "f\(f).npy", "--format", "csv", "-p", "smooth=\(smooth)", "-p", "lattice=\(lattice)"], in: dir)
            #expect(fixed.status == 0, "\(fixed.stderr)")
            let expected = fixed.stdout.split(separator: "\n").dropFirst().map(String.init)
            let mine = rows.filter { $0.hasPrefix("\(f),") }.map { String($0.dropFirst("\(f),".count)) }
            #expect(mine == expected, "frame \(f)")
            // Each frame's 4 spots are among its rows (frames 1 and 3, smoothed at the other
            // frames' scale, also show band-pass artefacts at the edges and between the spots).
            let xy = mine.map { row in row.split(separator: ",").prefix(2).compactMap { Double($0) } }
            for (cx, cy) in [(16.3, 15.8), (47.6, 16.2), (15.9, 48.4), (48.2, 47.7)] {
                #expect(xy.contains { $0.count == 2 && hypot($0[0] - cx, $0[1] - cy) < 1 }, "frame \(f): no peak at (\(cx), \(cy))")
            }
        }
        let alone = try PeaksExecutable.run(["detect", "f1.npy", "--format", "csv"], in: dir)
        #expect(alone.stdout.split(separator: "\n").dropFirst().map(String.init) != rows.filter { $0.hasPrefix("1,") }.map { String($0.dropFirst(2)) })

        // Shards resolve from the whole stack: each shard's parameters are the single run's.
        for i in 0..<2 {
            #expect(try PeaksExecutable.run(["detect", "mixed.npy", "--shard", "\(i)/2", "--format", "json", "-o", "s\(i).json"], in: dir).status == 0)
            let s = try #require(try JSONSerialization.jsonObject(with: bytes(dir, "s\(i).json")) as? [String: Any])
            #expect((s["parameters"] as? [String: Any])?["smooth"] as? Double == smooth)
        }
    }

    @Test(arguments: ["3", "0,0", "a,b", "1,2,3", "1.5,2"])
    func badLatticeIsAUsageError(_ value: String) throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try writeMixedStack(dir)
        let r = try PeaksExecutable.run(["detect", "f0.npy", "-p", "lattice=\(value)", "-o", "out.csv"], in: dir)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("lattice"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out.csv").path))
    }

    @Test func givenLatticeIsUsedAndReported() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try writeMixedStack(dir)
        let r = try PeaksExecutable.run(["detect", "f0.npy", "-p", "lattice=32,0", "--format", "json"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"lattice_vector\": \"32,0\"") && r.stdout.contains("\"lattice\": \"32,0\""))
    }
}
