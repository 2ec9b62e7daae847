import Foundation
import Testing
import Detectors
import ImageIO
import PeakKit
@testable import PeaksCLI

private let sample = "samples/lattice.png"

private func json(_ text: String) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try #require(object as? [String: Any])
}

@Suite struct DetectOutputs {
    @Test func jsonToStandardOutput() throws {
        let r = try PeaksExecutable.run(["detect", sample, "--noise", "poisson"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty)
        let doc = try json(r.stdout)
        #expect(doc["schema"] as? String == "peaks.detection/1")
        #expect(doc["algorithm"] as? String == "persistence")
        let image = try #require(doc["image"] as? [String: Any])
        #expect(image["path"] as? String == sample && image["width"] as? Int == 320 && image["height"] as? Int == 320)
        let parameters = try #require(doc["parameters"] as? [String: Any])
        #expect(parameters["noise"] as? String == "poisson" && parameters["prominence"] as? String == "auto")
        let peaks = try #require(doc["peaks"] as? [[String: Any]])
        #expect(peaks.count == doc["count"] as? Int)
        #expect(peaks.count > 50)
        var last = Double.infinity
        for p in peaks {
            let x = try #require(p["x"] as? Double), y = try #require(p["y"] as? Double)
            let prominence = try #require(p["prominence"] as? Double)
            #expect(x >= 0 && x < 320 && y >= 0 && y < 320)
            #expect(prominence <= last)
            last = prominence
            #expect(p["saddle_x"] is Double && p["saddle_y"] is Double && p["value"] is Double)
        }
    }

    @Test func csvHoldsTheSameNumbersAsJSON() throws {
        let a = try PeaksExecutable.run(["detect", sample, "--min-dist", "4"])
        let b = try PeaksExecutable.run(["detect", sample, "--min-dist", "4", "--format", "csv"])
        #expect(a.status == 0 && b.status == 0)
        let peaks = try #require(try json(a.stdout)["peaks"] as? [[String: Any]])
        let lines = b.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "x,y,value,prominence,birth_level,saddle_x,saddle_y,saddle_level,fitted")
        #expect(lines.count == peaks.count + 1)
        for (line, p) in zip(lines.dropFirst(), peaks) {
            let cells = line.split(separator: ",").map { Double($0)! }
            let keys = ["x", "y", "value", "prominence", "birth_level", "saddle_x", "saddle_y", "saddle_level"]
            // Foundation's JSON parser on Linux may round the 17th digit differently from
            // Double(String) (subpixel positions have all 17): equal to 1e-13 relative.
            for (c, k) in zip(cells, keys) {
                let v = p[k] as! Double
                #expect(abs(c - v) <= 1e-13 * max(1, abs(v)), "\(k): \(c) vs \(v)")
            }
        }
    }

    @Test func rerunsAreByteIdenticalAndTimingsStayOnStderr() throws {
        let dir = try temporaryFolder()
        var outputs: [[Data]] = []
        for run in 0..<2 {
            let sub = dir.appendingPathComponent("\(run)")
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            let r = try PeaksExecutable.run([
                "detect", sample, "-o", sub.appendingPathComponent("p.json").path,
                "--overlay", sub.appendingPathComponent("o.png").path,
                "--blobs", sub.appendingPathComponent("b.png").path, "--timings",
            ])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.isEmpty)
            #expect(r.stderr.hasPrefix("peaks: timings: read ") && r.stderr.contains(" ms, detect "))
            outputs.append(try ["p.json", "o.png", "b.png"].map { try Data(contentsOf: sub.appendingPathComponent($0)) })
        }
        #expect(outputs[0] == outputs[1])
        #expect(!String(decoding: outputs[0][0], as: UTF8.self).contains("ms"))
    }

    @Test func csvChosenByExtension() throws {
        let dir = try temporaryFolder()
        let out = dir.appendingPathComponent("peaks.csv")
        let r = try PeaksExecutable.run(["detect", sample, "-o", out.path])
        #expect(r.status == 0)
        #expect(try String(contentsOf: out, encoding: .utf8).hasPrefix("x,y,value,prominence"))
    }

    @Test func blobsAsNPYAndPreview() throws {
        let dir = try temporaryFolder()
        let npy = dir.appendingPathComponent("b.npy"), preview = dir.appendingPathComponent("c.png")
        // Summit pixels (-p refine=none): a subpixel position may lie just across a basin edge.
        let r = try PeaksExecutable.run(["detect", sample, "-p", "refine=none", "--blobs", npy.path, "--blobs-preview", preview.path, "-o", dir.appendingPathComponent("p.json").path])
        #expect(r.status == 0, "\(r.stderr)")
        let labels = try ImageFile.read(npy.path)
        #expect(labels.width == 320 && labels.height == 320)
        let peaks = try #require(try json(String(contentsOf: dir.appendingPathComponent("p.json"), encoding: .utf8))["peaks"] as? [[String: Any]])
        // Every peak lies in its own blob.
        for (k, p) in peaks.enumerated() {
            let x = Int(p["x"] as! Double), y = Int(p["y"] as! Double)
            #expect(labels[x, y] == Float(k + 1))
        }
        #expect(FileManager.default.fileExists(atPath: preview.path))
    }

    @Test func algorithmsListsParametersAndDefaults() throws {
        let r = try PeaksExecutable.run(["algorithms"])
        #expect(r.status == 0)
        for text in ["persistence", "-p prominence=", "default auto", "-p smooth=", "-p noise=<auto|gaussian|poisson>", "-p min_dist=", "-p exclude_border=", "[px]"] {
            #expect(r.stdout.contains(text), "missing \(text)")
        }
    }

    /// `peaks algorithms --format json`: every parameter of every detector, from the settings
    /// declarations (checked against the registry itself and parsed as JSON).
    @Test func algorithmsAsJSONListsEveryParameter() throws {
        let r = try PeaksExecutable.run(["algorithms", "--format", "json"])
        #expect(r.status == 0)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(root["schema"] as? String == "peaks.algorithms/1")
        let algorithms = try #require(root["algorithms"] as? [[String: Any]])
        #expect(algorithms.compactMap { $0["name"] as? String } == builtinDetectors.names)
        for (entry, detector) in zip(algorithms, builtinDetectors.detectors) {
            let parameters = try #require(entry["parameters"] as? [[String: Any]])
            #expect(parameters.compactMap { $0["name"] as? String } == detector.allParameterSpecs.map(\.name))
            for p in parameters {
                #expect(p["type"] is String && p["default"] != nil && p["help"] is String && p["unit"] is String)
            }
        }
    }

    /// Misspelt and malformed `-p` values are usage errors (exit 2) with one line.
    @Test func badParameterValuesAreUsageErrors() throws {
        let typo = try PeaksExecutable.run(["detect", sample, "-p", "promience=3"])
        #expect(typo.status == 2)
        #expect(typo.stderr.contains("did you mean 'prominence'?"))
        #expect(typo.stderr.split(separator: "\n").count == 1)
        for bad in ["prominence=abc", "smooth=-1", "noise=cauchy", "noise_factor=nan"] {
            let r = try PeaksExecutable.run(["detect", sample, "-p", bad])
            #expect(r.status == 2, "\(bad): exit \(r.status)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(bad): \(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
        let range = try PeaksExecutable.run(["detect", sample, "-p", "smooth=5000"])
        #expect(range.stderr.contains("0.0...1000.0"))
    }

    @Test func nonFinitePixelsCanBeMasked() throws {
        let dir = try temporaryFolder()
        var image = Image(width: 32, height: 32) { x, y in Float(100 * exp(-Double((x - 10) * (x - 10) + (y - 20) * (y - 20)) / 8)) }
        image[3, 4] = .nan
        let path = dir.appendingPathComponent("nan.npy")
        try Data(NPY.encodeFloat32(image)).write(to: path)
        let refused = try PeaksExecutable.run(["detect", path.path])
        #expect(refused.status == 1 && refused.stderr.contains("NaN"))
        let masked = try PeaksExecutable.run(["detect", path.path, "--nonfinite", "mask"])
        #expect(masked.status == 0, "\(masked.stderr)")
        let peaks = try #require(try json(masked.stdout)["peaks"] as? [[String: Any]])
        let x = try #require(peaks.first?["x"] as? Double), y = try #require(peaks.first?["y"] as? Double)
        #expect(abs(x - 10) < 0.05 && abs(y - 20) < 0.05, "(\(x), \(y))")
    }
}

/// Bad input: one line on stderr, exit code 1 (2 for usage), and no output file left behind.
@Suite struct BadInput {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var arguments: [String]  // OUT is replaced by the output folder
        var code: Int32
        var message: String
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "missing file", arguments: ["detect", "no/such/image.png"], code: 1, message: "no/such/image.png"),
        Case(name: "corrupt PNG", arguments: ["detect", "OUT/corrupt.png"], code: 1, message: "corrupt.png"),
        Case(name: "empty file", arguments: ["detect", "OUT/empty.png"], code: 1, message: "empty.png"),
        Case(name: "text file", arguments: ["detect", "OUT/notes.txt"], code: 1, message: "notes.txt"),
        Case(name: "empty image", arguments: ["detect", "OUT/empty.npy"], code: 1, message: "empty"),
        Case(name: "NaN pixels", arguments: ["detect", "OUT/nan.npy"], code: 1, message: "NaN"),
        Case(name: "mask of the wrong shape", arguments: ["detect", sample, "--mask", "OUT/small.npy"], code: 1, message: "mask"),
        Case(name: "negative prominence", arguments: ["detect", sample, "--prominence", "-1"], code: 2, message: "prominence"),
        Case(name: "prominence not a number", arguments: ["detect", sample, "--prominence", "lots"], code: 2, message: "prominence"),
        Case(name: "NaN min-dist", arguments: ["detect", sample, "--min-dist", "nan"], code: 2, message: "min_dist"),
        Case(name: "negative border", arguments: ["detect", sample, "--exclude-border", "-3"], code: 2, message: "exclude_border"),
        Case(name: "absurd smoothing", arguments: ["detect", sample, "--smooth", "1e9"], code: 2, message: "smooth"),
        Case(name: "unknown noise model", arguments: ["detect", sample, "--noise", "pink"], code: 2, message: "noise"),
        Case(name: "missing output folder", arguments: ["detect", sample, "-o", "OUT/no/such/folder/p.json"], code: 1, message: "does not exist"),
        Case(name: "blobs with a bad extension", arguments: ["detect", sample, "--blobs", "OUT/b.tiff"], code: 1, message: "b.tiff"),
        Case(name: "overwriting the input", arguments: ["detect", "OUT/good.npy", "-o", "OUT/good.npy"], code: 1, message: "overwrite"),
        Case(name: "unknown algorithm", arguments: ["detect", sample, "--algo", "nosuch"], code: 2, message: "nosuch"),
        Case(name: "unknown parameter", arguments: ["detect", sample, "-p", "sigma=2"], code: 2, message: "sigma"),
        Case(name: "malformed parameter", arguments: ["detect", sample, "-p", "smooth"], code: 2, message: "NAME=VALUE"),
        Case(name: "unknown option", arguments: ["detect", sample, "--frobnicate"], code: 2, message: "frobnicate"),
        Case(name: "missing input", arguments: ["detect"], code: 2, message: "input"),
        Case(name: "bad format", arguments: ["detect", sample, "--format", "xml"], code: 2, message: "xml"),
        Case(name: "unknown refine method", arguments: ["detect", sample, "--refine", "spline"], code: 2, message: "spline"),
        Case(name: "even refine size", arguments: ["detect", sample, "--refine", "com", "--refine-size", "4"], code: 2, message: "refine-size"),
        Case(name: "refine size not a number", arguments: ["detect", sample, "--refine", "com", "--refine-size", "big"], code: 2, message: "refine-size"),
        Case(name: "refine size without a windowed method", arguments: ["detect", sample, "--refine", "parabolic", "--refine-size", "5"], code: 2, message: "refine-size"),
        Case(name: "log scale ratio out of range", arguments: ["detect", sample, "--algo", "log", "-p", "k=0.5"], code: 2, message: "k"),
        Case(name: "log has no smoothing", arguments: ["detect", sample, "--algo", "log", "--smooth", "1"], code: 2, message: "smooth"),
        Case(name: "log polarity", arguments: ["detect", sample, "--algo", "log", "-p", "polarity=grey"], code: 2, message: "polarity"),
    ]

    @Test(arguments: cases)
    func failsCleanly(_ c: Case) throws {
        let dir = try temporaryFolder()
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3, 4, 5, 6, 7, 8, 9]).write(to: dir.appendingPathComponent("corrupt.png"))
        try Data().write(to: dir.appendingPathComponent("empty.png"))
        try Data("just some notes\n".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        try Data(NPY.encodeFloat32(Image(width: 0, height: 0))).write(to: dir.appendingPathComponent("empty.npy"))
        var nan = Image(width: 8, height: 8, repeating: 1)
        nan[2, 2] = .nan
        try Data(NPY.encodeFloat32(nan)).write(to: dir.appendingPathComponent("nan.npy"))
        try Data(NPY.encodeFloat32(Image(width: 5, height: 4, repeating: 1))).write(to: dir.appendingPathComponent("small.npy"))
        try Data(NPY.encodeFloat32(Image(width: 8, height: 8) { x, y in Float(x * y) })).write(to: dir.appendingPathComponent("good.npy"))
        let before = files(in: dir)
        let goodBytes = try Data(contentsOf: dir.appendingPathComponent("good.npy"))

        let arguments = c.arguments.map { $0.replacingOccurrences(of: "OUT", with: dir.path) }
            + ["--overlay", dir.appendingPathComponent("overlay-out.png").path]
            + (c.arguments.contains("-o") ? [] : ["-o", dir.appendingPathComponent("peaks-out.json").path])
        let r = try PeaksExecutable.run(arguments)
        #expect(r.status == c.code, "\(c.name): exit \(r.status), stderr: \(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(c.name): stderr has \(lines.count) lines: \(r.stderr)")
        #expect(r.stderr.hasPrefix("peaks: "), "\(c.name): \(r.stderr)")
        #expect(r.stderr.contains(c.message), "\(c.name): '\(c.message)' not in \(r.stderr)")
        #expect(r.stdout.isEmpty)
        #expect(files(in: dir) == before, "\(c.name): outputs left behind: \(files(in: dir))")
        #expect(try Data(contentsOf: dir.appendingPathComponent("good.npy")) == goodBytes)
    }

    @Test func constantImageIsNotAnErrorButHasNoPeaks() throws {
        let dir = try temporaryFolder()
        let path = dir.appendingPathComponent("flat.npy")
        try Data(NPY.encodeFloat32(Image(width: 16, height: 16, repeating: 3))).write(to: path)
        let r = try PeaksExecutable.run(["detect", path.path])
        #expect(r.status == 0)
        #expect(try json(r.stdout)["count"] as? Int == 0)
    }
}

@Suite struct HelpAndVersion {
    @Test(arguments: [["--help"], ["detect", "--help"], ["algorithms", "--help"], ["--version"], ["help", "detect"]])
    func printsToStandardOutputAndSucceeds(_ arguments: [String]) throws {
        let r = try PeaksExecutable.run(arguments)
        #expect(r.status == 0, "\(arguments): \(r.stderr)")
        #expect(!r.stdout.isEmpty && r.stderr.isEmpty)
    }

    @Test func detectHelpReadsLikeTheCommand() throws {
        let r = try PeaksExecutable.run(["detect", "--help"])
        for option in ["--mask", "--min-dist", "--exclude-border", "--prominence", "--smooth", "--noise", "--format", "--output", "--overlay", "--blobs", "--timings"] {
            #expect(r.stdout.contains(option), "help lacks \(option)")
        }
    }

    /// docs/cli.md quotes `peaks COMMAND --help` in full (the blocks that start with OVERVIEW:);
    /// each must be what the command prints now, so the reference cannot go stale. To refresh a
    /// block, paste the output of `peaks COMMAND --help` (80 columns, as printed into a pipe).
    @Test func theHelpQuotedInDocsIsTheCommandsHelp() throws {
        let doc = try String(contentsOf: PeaksExecutable.packageRoot.appendingPathComponent("docs/cli.md"), encoding: .utf8)
        // Each block runs from "```\nOVERVIEW:" to the next "\n```".
        let blocks = doc.components(separatedBy: "```\nOVERVIEW:").dropFirst().map { part in
            "OVERVIEW:" + (part.components(separatedBy: "\n```").first ?? "")
        }
        #expect(blocks.count >= 3, "docs/cli.md quotes the help of detect, center and register")
        for block in blocks {
            let usage = try #require(block.split(separator: "\n").first { $0.hasPrefix("USAGE: peaks ") })
            let command = String(usage.split(separator: " ")[2])
            let r = try PeaksExecutable.run([command, "--help"])
            #expect(r.status == 0)
            #expect(block.trimmingCharacters(in: .newlines) == r.stdout.trimmingCharacters(in: .newlines),
                    "docs/cli.md: the quoted help of 'peaks \(command)' differs from 'peaks \(command) --help'")
        }
    }
}

/// `peaks detect ARGS` is parsed as the `detect` command alone (`Detect.parsedDirectly`, which
/// skips the root command's own parse, ~1 ms of every run) and falls back to the root's parse
/// whenever that fails, so that help, --version and every error come from the root as before.
@Suite struct DetectDirectParse {
    static func summary(_ d: PeaksCLI.Detect) throws -> String {
        let (detector, parameters) = try d.resolvedParameters()
        return "\(d.inputs) \(d.algo) \(d.params) \(d.minDist ?? "-") \(d.excludeBorder ?? "-") \(d.prominence ?? "-") \(d.smooth ?? "-") "
            + "\(d.noise ?? "-") \(d.output ?? "-") \(String(describing: d.format)) \(d.overlay ?? "-") \(d.stretch) \(d.nonfinite) \(d.timings) "
            + "\(d.mask ?? "-") \(d.refine) \(detector.name) \(parameters)"
    }

    @Test("gives what the root's parse gives, or nil where that fails or asks for help", arguments: [
        ([sample], true),
        ([sample, "--noise", "poisson", "-o", "x.json", "--min-dist", "3", "-p", "band_pass=false", "--timings", "--stretch", "log"], true),
        (["a.png", "b.png", "--algo", "log", "--format", "csv", "--prominence", "auto", "--exclude-border", "2"], true),
        ([sample, "--smooth", "1.5", "--mask", "m.png", "--nonfinite", "mask"], true),
        ([], false), ([sample, "--version"], false), ([sample, "--help"], false), ([sample, "-h"], false),
        ([sample, "--algo", "nope"], false), ([sample, "--min-dist"], false), ([sample, "--no-such-option"], false),
    ])
    func sameAsRoot(_ arguments: [String], parses: Bool) throws {
        let direct = PeaksCLI.Detect.parsedDirectly(["peaks", "detect"] + arguments) as? PeaksCLI.Detect
        #expect((direct != nil) == parses, "\(arguments)")
        guard let direct else { return }
        let root = try #require(try PeaksCLI.Peaks.parseAsRoot(["detect"] + arguments) as? PeaksCLI.Detect)
        #expect(try Self.summary(direct) == Self.summary(root))
    }

    @Test func otherCommandsAreNotParsedDirectly() {
        #expect(PeaksCLI.Detect.parsedDirectly(["peaks", "center", sample]) == nil)
        #expect(PeaksCLI.Detect.parsedDirectly(["peaks"]) == nil)
        #expect(PeaksCLI.Detect.parsedDirectly(["peaks", "detect"]) == nil)
    }
}
