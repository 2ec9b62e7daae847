import Foundation
import Testing
import Correlation
import Harness
import ImageIO
import PeakKit
import Spectral

private func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

/// A smooth random texture (deterministic).
private func texture(width: Int, height: Int, seed: UInt64) -> Image {
    var rng = SeededRandom(seed: seed)
    var img = Image(width: width, height: height) { _, _ in Float(rng.uniform(0, 100)) }
    // 3x3 box blur twice: smooth enough for subpixel fits, sharp enough for a clear peak.
    for _ in 0..<2 {
        let src = img
        img = Image(width: width, height: height) { x, y in
            var s: Float = 0, n: Float = 0
            for dy in -1...1 { for dx in -1...1 {
                let u = x + dx, v = y + dy
                if u >= 0, v >= 0, u < width, v < height { s += src[u, v]; n += 1 }
            } }
            return s / n
        }
    }
    return img
}

private func crop(_ image: Image, _ x0: Int, _ y0: Int, _ w: Int, _ h: Int) -> Image {
    Image(width: w, height: h) { x, y in image[x0 + x, y0 + y] }
}

private func write(_ image: Image, _ dir: URL, _ name: String) throws -> String {
    let path = dir.appendingPathComponent(name).path
    try ImageFile.writeNPY(image, to: path)
    return path
}

private func expectOneLineError(_ r: CommandResult, code: Int32, containing: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status == code, "status \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
    #expect(r.stdout.isEmpty, sourceLocation: sourceLocation)
    #expect(r.stderr.hasPrefix("peaks: ") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)", sourceLocation: sourceLocation)
    #expect(r.stderr.contains(containing), "\(r.stderr)", sourceLocation: sourceLocation)
}

@Suite struct CenterCommand {
    @Test func findsTheSampleCentre() throws {
        let r = try PeaksExecutable.run(["center", "samples/lattice.png"])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try json(r.stdout)
        #expect(doc["schema"] as? String == "peaks.center/1")
        let x = try #require(doc["x"] as? Double), y = try #require(doc["y"] as? Double)
        #expect(abs(x - 161.3) < 0.1 && abs(y - 158.7) < 0.1)
        #expect(doc["method"] as? String == "autocenter")
    }

    @Test func badInputs() throws {
        let dir = try temporaryFolder()
        expectOneLineError(try PeaksExecutable.run(["center", dir.appendingPathComponent("missing.png").path]), code: 1, containing: "missing.png")
        let flat = try write(Image(width: 20, height: 20, repeating: 3), dir, "flat.npy")
        let out = dir.appendingPathComponent("c.json").path
        expectOneLineError(try PeaksExecutable.run(["center", flat, "-o", out]), code: 1, containing: "equal")
        #expect(!FileManager.default.fileExists(atPath: out))
        let mask = try write(Image(width: 5, height: 5, repeating: 1), dir, "mask.npy")
        expectOneLineError(try PeaksExecutable.run(["center", "samples/lattice.png", "--mask", mask]), code: 1, containing: "mask")
        expectOneLineError(try PeaksExecutable.run(["center", "samples/lattice.png", "--subpixel", "cubic"]), code: 2, containing: "subpixel")
    }
}

@Suite struct RegisterCommand {
    @Test func phaseCorrelationWithUpsampling() throws {
        let dir = try temporaryFolder()
        let big = texture(width: 140, height: 130, seed: 3)
        // moving(x) = reference(x + (5, -3)): the shift to apply to MOVING is (5, -3) (circular
        // shifts would be exact; crops of a texture are close).
        let ref = try write(crop(big, 20, 20, 96, 90), dir, "ref.npy")
        let mov = try write(crop(big, 25, 17, 96, 90), dir, "mov.npy")
        let r = try PeaksExecutable.run(["register", ref, mov, "--upsample", "20"])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try json(r.stdout)
        #expect(doc["schema"] as? String == "peaks.registration/1" && doc["method"] as? String == "phase-correlation")
        let dx = try #require(doc["dx"] as? Double), dy = try #require(doc["dy"] as? Double)
        #expect(abs(dx - 5) < 0.1 && abs(dy + 3) < 0.1, "\(dx), \(dy)")
        let rc = try #require(doc["shift_rc"] as? [Double])
        #expect(rc == [dy, dx])
        #expect(doc["error"] is Double && doc["phase_difference"] is Double)
        #expect((doc["convention"] as? String)?.contains("MOVING") == true)
    }

    @Test func maskedRegistration() throws {
        let dir = try temporaryFolder()
        let big = texture(width: 140, height: 130, seed: 8)
        var refImage = crop(big, 20, 20, 96, 90)
        let mov = try write(crop(big, 13, 26, 96, 90), dir, "mov.npy")   // shift to apply: (-7, 6)
        var maskImage = Image(width: 96, height: 90, repeating: 1)
        for y in 30..<60 { for x in 40..<70 { refImage[x, y] = 1e6; maskImage[x, y] = 0 } }  // a masked blemish
        let ref = try write(refImage, dir, "ref.npy"), mask = try write(maskImage, dir, "mask.npy")
        let out = dir.appendingPathComponent("shift.json").path
        let r = try PeaksExecutable.run(["register", ref, mov, "--reference-mask", mask, "-o", out])
        #expect(r.status == 0 && r.stdout.isEmpty, "\(r.stderr)")
        let doc = try json(try String(contentsOfFile: out, encoding: .utf8))
        #expect(doc["method"] as? String == "masked-ncc")
        #expect(doc["pixel_dx"] as? Int == -7 && doc["pixel_dy"] as? Int == 6)
    }

    @Test func badInputs() throws {
        let dir = try temporaryFolder()
        let a = try write(texture(width: 30, height: 30, seed: 1), dir, "a.npy")
        let b = try write(texture(width: 31, height: 30, seed: 2), dir, "b.npy")
        let out = dir.appendingPathComponent("o.json").path
        expectOneLineError(try PeaksExecutable.run(["register", a, b, "-o", out]), code: 1, containing: "30")
        #expect(!FileManager.default.fileExists(atPath: out))
        expectOneLineError(try PeaksExecutable.run(["register", a, a, "--upsample", "0"]), code: 1, containing: "upsample")
        expectOneLineError(try PeaksExecutable.run(["register", a, a, "--normalization", "magic"]), code: 2, containing: "normalization")
        expectOneLineError(try PeaksExecutable.run(["register", a]), code: 2, containing: "moving")
        expectOneLineError(try PeaksExecutable.run(["register", a, a, "-o", a]), code: 1, containing: "overwrite")
        expectOneLineError(try PeaksExecutable.run(["register", a, a, "--reference-mask", a, "--upsample", "10"]), code: 2, containing: "upsample")
        expectOneLineError(try PeaksExecutable.run(["register", a, a, "--shard", "0/2", "-o", "x.json"]), code: 2, containing: "--shard")
    }
}

@Suite struct MatchCommand {
    @Test(arguments: ["valid", "same", "full"])
    func findsAPlantedTemplateAndWritesDebugFiles(mode: String) throws {
        let dir = try temporaryFolder()
        let img = texture(width: 80, height: 70, seed: 5)
        let imagePath = try write(img, dir, "image.npy")
        let tplPath = try write(crop(img, 31, 17, 12, 10), dir, "tpl.npy")
        let debug = dir.appendingPathComponent("debug").path
        let r = try PeaksExecutable.run(["match", tplPath, imagePath, "--mode", mode, "--debug-dir", debug])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try json(r.stdout)
        #expect(doc["pixel_dx"] as? Int == 31 && doc["pixel_dy"] as? Int == 17)
        #expect(abs((doc["peak"] as? Double ?? 0) - 1) < 1e-6)
        #expect(files(in: URL(fileURLWithPath: debug)) == ["correlation.png", "image.png", "match.json", "template.png"])
        let dbg = try json(try String(contentsOfFile: debug + "/match.json", encoding: .utf8))
        #expect(dbg["magnitude"] is Double && dbg["dx"] is Double)
        let map = try ImageFile.read(debug + "/correlation.png")
        let m = try #require(doc["map"] as? [String: Any])
        #expect(map.width == m["width"] as? Int && map.height == m["height"] as? Int)
    }

    @Test func badInputs() throws {
        let dir = try temporaryFolder()
        let img = try write(texture(width: 20, height: 20, seed: 5), dir, "image.npy")
        let flat = try write(Image(width: 5, height: 5, repeating: 2), dir, "flat.npy")
        let big = try write(texture(width: 30, height: 30, seed: 6), dir, "big.npy")
        let debug = dir.appendingPathComponent("debug").path
        expectOneLineError(try PeaksExecutable.run(["match", flat, img, "--debug-dir", debug]), code: 1, containing: "flat")
        #expect(!FileManager.default.fileExists(atPath: debug))
        expectOneLineError(try PeaksExecutable.run(["match", big, img]), code: 1, containing: "no valid placement")
        expectOneLineError(try PeaksExecutable.run(["match", img, img, "--mode", "middle"]), code: 2, containing: "mode")
    }
}

@Suite struct ShiftsCommand {
    @Test func uniformFieldAsJSONNPYAndPlot() throws {
        let dir = try temporaryFolder()
        let big = texture(width: 180, height: 160, seed: 9)
        let ref = try write(crop(big, 20, 20, 128, 112), dir, "ref.npy")
        let mov = try write(crop(big, 22, 17, 128, 112), dir, "mov.npy")   // shift to apply: (2, -3)
        let npy = dir.appendingPathComponent("field.npy").path, png = dir.appendingPathComponent("field.png").path
        let r = try PeaksExecutable.run(["shifts", ref, mov, "--window", "24", "--margin", "6", "-o", npy, "--plot", png])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try json(r.stdout)
        let g = try #require(doc["global"] as? [String: Any])
        #expect(abs((g["dx"] as? Double ?? 0) - 2) < 0.05 && abs((g["dy"] as? Double ?? 0) + 3) < 0.05, "\(g)")
        let vectors = try #require(doc["vectors"] as? [[String: Any]])
        #expect(vectors.count == (doc["rows"] as? Int ?? 0) * (doc["columns"] as? Int ?? 0) && vectors.count == 16)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: npy))
        let header = String(decoding: bytes.prefix(128), as: UTF8.self)
        #expect(header.contains("'descr': '<f8'") && header.contains("'shape': (4, 4, 2)"))
        #expect(bytes.count == 128 + 4 * 4 * 2 * 8)
        let picture = try ImageFile.read(png)
        #expect(picture.width >= 128)
    }

    @Test func badInputs() throws {
        let dir = try temporaryFolder()
        let a = try write(texture(width: 40, height: 40, seed: 1), dir, "a.npy")
        let out = dir.appendingPathComponent("f.npy").path
        expectOneLineError(try PeaksExecutable.run(["shifts", a, a, "--window", "40", "--margin", "4", "-o", out]), code: 1, containing: "window")
        #expect(!FileManager.default.fileExists(atPath: out))
        expectOneLineError(try PeaksExecutable.run(["shifts", a, a, "--window", "8", "--margin", "2", "-o", dir.appendingPathComponent("f.txt").path]), code: 1, containing: ".npy")
        expectOneLineError(try PeaksExecutable.run(["shifts", a, a, "--margin", "2"]), code: 2, containing: "window")
    }
}

@Suite struct DetectWithCenter {
    @Test func highSymmetryWithAndWithoutAGivenCentre() throws {
        let r = try PeaksExecutable.run(["detect", "samples/lattice.png", "--algo", "high-symmetry", "--center", "161.3,158.7"])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try json(r.stdout)
        let d = try #require(doc["diagnostics"] as? [String: Any])
        #expect(d["center_method"] as? String == "given" && d["center_x"] as? Double == 161.3)
        let auto = try json(try PeaksExecutable.run(["detect", "samples/lattice.png", "--algo", "high-symmetry"]).stdout)
        let da = try #require(auto["diagnostics"] as? [String: Any])
        #expect(da["center_method"] as? String == "autocenter")
        #expect(abs((da["center_x"] as? Double ?? 0) - 161.3) < 0.1)
        #expect((auto["count"] as? Int ?? 0) > 140)
    }

    @Test func badCentres() throws {
        expectOneLineError(try PeaksExecutable.run(["detect", "samples/lattice.png", "--algo", "high-symmetry", "--center", "12"]), code: 2, containing: "center")
        expectOneLineError(try PeaksExecutable.run(["detect", "samples/lattice.png", "--center", "1,2"]), code: 2, containing: "high-symmetry")
    }
}

@Suite struct CorrelationCommandDeterminism {
    @Test func rerunsAreByteIdentical() throws {
        let dir = try temporaryFolder()
        let big = texture(width: 150, height: 140, seed: 21)
        let ref = try write(crop(big, 10, 10, 120, 110), dir, "ref.npy")
        let mov = try write(crop(big, 13, 8, 120, 110), dir, "mov.npy")
        var runs: [[Data]] = []
        for k in 0..<2 {
            let sub = dir.appendingPathComponent("\(k)")
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            let a = try PeaksExecutable.run(["register", ref, mov, "--upsample", "50"])
            let b = try PeaksExecutable.run(["shifts", ref, mov, "--window", "20", "--margin", "5",
                                             "-o", sub.appendingPathComponent("f.npy").path, "--plot", sub.appendingPathComponent("f.png").path])
            let c = try PeaksExecutable.run(["match", tplPath(dir, big), ref, "--debug-dir", sub.appendingPathComponent("dbg").path])
            let e = try PeaksExecutable.run(["center", "samples/lattice.png"])
            #expect(a.status == 0 && b.status == 0 && c.status == 0 && e.status == 0)
            runs.append([Data(a.stdout.utf8), Data(b.stdout.utf8), Data(c.stdout.utf8), Data(e.stdout.utf8)]
                + (try ["f.npy", "f.png", "dbg/correlation.png", "dbg/match.json"].map { try Data(contentsOf: sub.appendingPathComponent($0)) }))
        }
        #expect(runs[0] == runs[1])
    }

    private func tplPath(_ dir: URL, _ big: Image) throws -> String {
        let path = dir.appendingPathComponent("tpl.npy").path
        if !FileManager.default.fileExists(atPath: path) { try ImageFile.writeNPY(crop(big, 40, 30, 16, 12), to: path) }
        return path
    }
}
