import Foundation
import Pipeline
import Testing

/// `peaks detect --each FILES -o DIR`: every file is its own image and its own detection, with
/// one peak list per file, byte-identical to one run per file (docs/cli.md, "File lists").
@Suite struct EachFileOnItsOwn {
    /// Real images of three sizes and four kinds (a star field, a telomere frame, a Laue crop and
    /// RNA spots in nuclei, the last two both 512², with spot scales of 0.89 and 1.41 px): the
    /// list is not one stack, and each file's settings are its own, also between files of one size.
    static let images = [
        "Golden/real/astro-dss/image.npy", "Golden/real/track-telomeres-f0/image.npy", "Golden/real/xray-laue-ge-c/image.npy",
        "Golden/real/fluo-spots-terra/image.npy",
    ]

    /// Copies of the corpus images under distinct names in a fresh folder.
    static func inputs(in dir: URL) throws -> [String] {
        try images.map { relative in
            let name = relative.split(separator: "/")[2] + ".npy"
            let path = dir.appendingPathComponent(String(name)).path
            try FileManager.default.copyItem(atPath: PeaksExecutable.packageRoot.appendingPathComponent(relative).path, toPath: path)
            return path
        }
    }

    @Test(arguments: [[], ["--algo", "log"], ["--format", "csv"]])
    func eachFileGivesWhatItsOwnRunGives(_ options: [String]) throws {
        let dir = try temporaryFolder()
        let files = try Self.inputs(in: dir)
        let folder = dir.appendingPathComponent("out/lists")
        let r = try PeaksExecutable.run(["detect", "--each", dir.appendingPathComponent("*.npy").path, "-o", folder.path] + options)
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
        let ext = options.contains("csv") ? "csv" : "json"
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
                == Set(files.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent + "." + ext }))
        for file in files {
            let single = dir.appendingPathComponent("single.\(ext)").path
            let one = try PeaksExecutable.run(["detect", file, "-o", single] + options)
            #expect(one.status == 0, "\(one.stderr)")
            let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent + "." + ext
            let batch = try Data(contentsOf: folder.appendingPathComponent(name))
            #expect(batch == (try Data(contentsOf: URL(fileURLWithPath: single))), "\(name) differs from its own run")
            #expect(batch.count > 100)
        }
    }

    /// The sizes differ, so without --each the list is a stack and is refused at the second file.
    @Test func withoutEachTheListIsOneStack() throws {
        let dir = try temporaryFolder()
        _ = try Self.inputs(in: dir)
        let r = try PeaksExecutable.run(["detect", dir.appendingPathComponent("*.npy").path, "-o", dir.appendingPathComponent("t.csv").path])
        #expect(r.status == 1, "\(r.stderr)")
    }

    /// A corrupt file and a stack among good ones: each is named on its own line and skipped, the
    /// others' lists are written, no list (and no temporary file) is left for the bad ones, exit 1.
    @Test func badFilesAreReportedAndSkipped() throws {
        let dir = try temporaryFolder()
        let files = try Self.inputs(in: dir)
        let corrupt = dir.appendingPathComponent("b-corrupt.npy").path
        let good = try Data(contentsOf: URL(fileURLWithPath: files[0]))
        try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: corrupt))  // header claims more than the file holds
        let stack = dir.appendingPathComponent("c-stack.npy").path
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 8, 8), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count + 1), 0] + Array(header.utf8) + [0x0A]
        bytes += [UInt8](repeating: 0, count: 2 * 8 * 8 * 4)
        try Data(bytes).write(to: URL(fileURLWithPath: stack))
        let folder = dir.appendingPathComponent("out")
        let r = try PeaksExecutable.run(["detect", "--each", dir.appendingPathComponent("*.npy").path, "-o", folder.path])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(r.stderr)")
        #expect(lines.contains { $0.hasPrefix("peaks: error: \(corrupt): ") }, "\(r.stderr)")
        #expect(lines.contains { $0.hasPrefix("peaks: error: \(stack): ") && $0.contains("stack of 2 frames") }, "\(r.stderr)")
        #expect(lines.last.map { $0.contains("2 of 6 files failed") && $0.hasSuffix("4 peak lists written") } == true, "\(r.stderr)")
        let written = Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
        #expect(written == Set(files.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent + ".json" }), "\(written)")
    }

    /// Mistakes in the options are usage errors (exit 2) before anything is read or written.
    @Test func usageErrors() throws {
        let dir = try temporaryFolder()
        let files = try Self.inputs(in: dir)
        let other = dir.appendingPathComponent("sub")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        let twin = other.appendingPathComponent(URL(fileURLWithPath: files[0]).lastPathComponent).path
        try FileManager.default.copyItem(atPath: files[0], toPath: twin)
        let out = dir.appendingPathComponent("out").path
        for (arguments, says) in [
            (["detect", "--each"] + files, "give -o"),
            (["detect", "--each"] + files + ["-o", out, "--overlay", dir.appendingPathComponent("o.png").path], "--overlay is not available with --each"),
            (["detect", "--each"] + files + ["-o", out, "--shard", "0/2"], "--shard is not available with --each"),
            (["detect", "--each"] + files + ["-o", out, "--frames", "0:1"], "--frames is not available with --each"),
            (["detect", "--each", files[0], twin, "-o", out], "would both write"),
            (["detect", "--each"] + files + ["-o", dir.appendingPathComponent("all.CSV").path], "names a file (give a folder)"),
        ] {
            let r = try PeaksExecutable.run(arguments)
            #expect(r.status == 2, "\(arguments): \(r.stderr)")
            #expect(r.stderr.contains(says), "\(arguments): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}

/// `IndependentJobs` (the workers of `--each`): every job runs once, and the results come back in
/// job order whatever the thread count and whichever job finishes first.
@Suite struct IndependentJobsOrder {
    /// Counts how often each job ran, from any thread.
    final class Runs: @unchecked Sendable {
        private let lock = NSLock()
        private var counts: [Int]
        init(_ n: Int) { counts = [Int](repeating: 0, count: n) }
        func record(_ i: Int) { lock.lock(); counts[i] += 1; lock.unlock() }
        var all: [Int] { lock.lock(); defer { lock.unlock() }; return counts }
    }

    @Test(arguments: [0, 1, 2, 3, 8])
    func resultsInJobOrderEachJobOnce(threads: Int) {
        let n = 40
        let runs = Runs(n)
        // Later jobs finish first: job i sleeps (n - i) x 0.2 ms.
        let results = IndependentJobs.run(count: n, threads: threads) { i -> String in
            runs.record(i)
            usleep(useconds_t(200 * (n - i)))
            return "job \(i), \(i * i)"
        }
        #expect(results == (0..<n).map { "job \($0), \($0 * $0)" })
        #expect(runs.all == [Int](repeating: 1, count: n))
        #expect(IndependentJobs.run(count: 0, threads: threads) { $0 }.isEmpty)
    }
}

