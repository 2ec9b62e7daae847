import Foundation
import Testing
import Harness
import ImageIO
import PeakKit

@Suite struct GenerateCommand {
    @Test func writesTheFilesAndTheSameBytesForTheSameSeed() throws {
        let dir = try temporaryFolder()
        var contents: [[Data]] = []
        for run in ["a", "b"] {
            let out = dir.appendingPathComponent(run)
            let r = try PeaksExecutable.run(["generate", "--class", "symmetric", "--size", "96", "--seed", "7", "--out", out.path])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(files(in: out) == ["image.npy", "image.png", "mask.png", "truth.json"])
            contents.append(try files(in: out).map { try Data(contentsOf: out.appendingPathComponent($0)) })
        }
        #expect(contents[0] == contents[1])
        // The files are what the library generates.
        let g = try SyntheticGenerator.generate(.symmetric, size: 96, seed: 7)
        #expect(try ImageFile.read(dir.appendingPathComponent("a/image.npy").path) == g.image)
        let truth = try String(contentsOf: dir.appendingPathComponent("a/truth.json"), encoding: .utf8)
        #expect(truth == TruthFile.render(g))
        // Rerunning into the folder replaces it; a class without a mask leaves none behind.
        let r = try PeaksExecutable.run(["generate", "--class", "noisy", "--size", "64", "--seed", "1", "--out", dir.appendingPathComponent("a").path])
        #expect(r.status == 0)
        #expect(files(in: dir.appendingPathComponent("a")) == ["image.npy", "image.png", "truth.json"])
    }
}

@Suite struct EvaluateCommand {
    @Test func smallRunWritesTheReportAndRerunsIdentically() throws {
        let dir = try temporaryFolder()
        var results: [Data] = []
        var manifests: [Data] = []
        for (run, threads) in [("a", "1"), ("b", "2"), ("b", "2")] {  // b twice: the same arguments
            let out = dir.appendingPathComponent(run)
            let r = try PeaksExecutable.run(["evaluate", "--classes", "noisy,crowded", "--count", "1", "--size", "64", "--sweep-steps", "4", "--threads", threads, "--out", out.path])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.isEmpty)
            #expect(!r.stderr.contains("["), "no progress bar when stderr is not a terminal")
            for f in ["results.json", "results.csv", "timings.csv", "manifest.json", "report.md", "report.html", "images/f1.png", "images/pr-noisy.png", "images/errors.png"] {
                #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), "missing \(f)")
            }
            results.append(try Data(contentsOf: out.appendingPathComponent("results.json")))
            manifests.append(try Data(contentsOf: out.appendingPathComponent("manifest.json")))
        }
        #expect(results[0] == results[1] && results[1] == results[2])
        // The manifest covers every file but timings.csv and records no run-dependent data: two
        // runs with the same arguments write the same bytes.
        #expect(manifests[1] == manifests[2])
        #expect(!String(decoding: manifests[2], as: UTF8.self).contains("timings.csv"))
    }

    @Test func datasetFolders() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        for (name, seed) in [("one", 3), ("two", 4)] {
            let r = try PeaksExecutable.run(["generate", "--class", "hdr", "--size", "64", "--seed", String(seed), "--out", data.appendingPathComponent(name).path])
            #expect(r.status == 0)
        }
        // A PNG-only case, a folder without truth, and one whose truth has no peaks.
        let png = data.appendingPathComponent("png-only")
        try FileManager.default.createDirectory(at: png, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: data.appendingPathComponent("one/image.png"), to: png.appendingPathComponent("frame.png"))
        try FileManager.default.copyItem(at: data.appendingPathComponent("one/truth.json"), to: png.appendingPathComponent("truth.json"))
        try FileManager.default.createDirectory(at: data.appendingPathComponent("no-truth"), withIntermediateDirectories: true)
        let empty = data.appendingPathComponent("empty-truth")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try Data("{\"peaks\": []}".utf8).write(to: empty.appendingPathComponent("truth.json"))
        let out = dir.appendingPathComponent("eval")
        let r = try PeaksExecutable.run(["evaluate", "--dataset", data.path, "--sweep-steps", "3", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("no-truth") && r.stderr.contains("empty-truth"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("results.json"))) as? [String: Any]
        let cases = (json?["cases"] as? [[String: Any]]) ?? []
        #expect(Set(cases.compactMap { $0["case"] as? String }) == ["one", "two", "png-only"])
        let manifest = try String(contentsOf: out.appendingPathComponent("manifest.json"), encoding: .utf8)
        #expect(manifest.contains("frame.png") && manifest.contains("one/image.npy"))
    }

    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var arguments: [String]
        var code: Int32
        var message: String
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "missing dataset", arguments: ["evaluate", "--dataset", "OUT/nowhere"], code: 1, message: "does not exist"),
        Case(name: "bad truth.json", arguments: ["evaluate", "--dataset", "OUT/bad"], code: 1, message: "truth.json"),
        Case(name: "unknown class", arguments: ["evaluate", "--classes", "noisy,fuzzy"], code: 2, message: "fuzzy"),
        Case(name: "unknown algorithm", arguments: ["evaluate", "--algos", "nosuch"], code: 2, message: "nosuch"),
        Case(name: "count 0", arguments: ["evaluate", "--count", "0"], code: 1, message: "count"),
        Case(name: "size 5", arguments: ["evaluate", "--size", "5"], code: 1, message: "size"),
        Case(name: "negative tolerance", arguments: ["evaluate", "--tolerance", "-1"], code: 1, message: "tolerance"),
        Case(name: "threads 0", arguments: ["evaluate", "--threads", "0"], code: 1, message: "threads"),
        Case(name: "dataset with classes", arguments: ["evaluate", "--dataset", "OUT/bad", "--classes", "noisy"], code: 2, message: "--dataset"),
        Case(name: "empty list", arguments: ["evaluate", "--classes", "noisy,"], code: 2, message: "--classes"),
        Case(name: "generate: unknown class", arguments: ["generate", "--class", "fuzzy"], code: 2, message: "fuzzy"),
        Case(name: "generate: size 5", arguments: ["generate", "--class", "noisy", "--size", "5"], code: 1, message: "size"),
        Case(name: "generate: missing class", arguments: ["generate"], code: 2, message: "class"),
        Case(name: "out is a file", arguments: ["evaluate", "--count", "1", "--size", "32", "--classes", "noisy", "--out", "OUT/file.txt"], code: 1, message: "file.txt"),
        Case(name: "out is someone else's folder", arguments: ["evaluate", "--count", "1", "--size", "32", "--classes", "noisy", "--out", "OUT/bad"], code: 1, message: "refusing"),
    ]

    @Test(arguments: cases)
    func badInputFailsCleanly(_ c: Case) throws {
        let dir = try temporaryFolder()
        let bad = dir.appendingPathComponent("bad/case1")
        try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
        try Data("{\"peaks\": [{\"x\": 1}]}".utf8).write(to: bad.appendingPathComponent("truth.json"))
        try Data(NPY.encodeFloat32(Image(width: 8, height: 8, repeating: 1))).write(to: bad.appendingPathComponent("image.npy"))
        try Data("text".utf8).write(to: dir.appendingPathComponent("file.txt"))
        let before = files(in: dir)
        var arguments = c.arguments.map { $0.replacingOccurrences(of: "OUT", with: dir.path) }
        if !arguments.contains("--out") { arguments += ["--out", dir.appendingPathComponent("result").path] }
        let r = try PeaksExecutable.run(arguments)
        #expect(r.status == c.code, "\(c.name): exit \(r.status), stderr: \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.hasPrefix("peaks: "), "\(c.name): \(r.stderr)")
        #expect(r.stderr.contains(c.message), "\(c.name): '\(c.message)' not in \(r.stderr)")
        #expect(files(in: dir) == before, "\(c.name): outputs left behind: \(files(in: dir))")
        #expect(files(in: dir.appendingPathComponent("bad")) == ["case1"])
    }
}

@Suite struct HarnessHelp {
    @Test(arguments: [["generate", "--help"], ["evaluate", "--help"]])
    func helpReadsLikeTheCommand(_ arguments: [String]) throws {
        let r = try PeaksExecutable.run(arguments)
        #expect(r.status == 0 && r.stderr.isEmpty)
        let options = arguments[0] == "generate"
            ? ["--class", "--size", "--seed", "--out", "--no-beam-stop"]
            : ["--algos", "--classes", "--count", "--size", "--seed", "--tolerance", "--dataset", "--out", "--threads", "--sweep-steps"]
        for o in options { #expect(r.stdout.contains(o), "\(arguments[0]) help lacks \(o)") }
    }
}
