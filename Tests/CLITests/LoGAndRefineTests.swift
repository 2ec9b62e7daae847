import Foundation
import Harness
import ImageIO
import PeakKit
import Testing

private let sample = "samples/lattice.png"

private func json(_ text: String) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try #require(object as? [String: Any])
}

/// `peaks detect --algo log` and `--refine` end to end.
@Suite struct LoGCommand {
    @Test func findsTheSampleSpotsWithSigmaAndRadius() throws {
        let r = try PeaksExecutable.run(["detect", sample, "--algo", "log"])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try json(r.stdout)
        #expect(doc["algorithm"] as? String == "log")
        let parameters = try #require(doc["parameters"] as? [String: Any])
        #expect(parameters["prominence"] as? String == "auto" && parameters["polarity"] as? String == "bright")
        let peaks = try #require(doc["peaks"] as? [[String: Any]])
        let truth = SampleImages.lattice()
        // Every Bragg spot and the beam, nothing else; sigma near the generating 1.6 px.
        #expect(peaks.count == truth.spots.count + 1)
        for s in truth.spots {
            let hit = peaks.first { abs(($0["x"] as? Double ?? -9) - s.x) < 1 && abs(($0["y"] as? Double ?? -9) - s.y) < 1 }
            #expect(hit != nil, "missed the spot at (\(s.x), \(s.y))")
            if let hit, let sigma = hit["sigma"] as? Double, let radius = hit["radius"] as? Double {
                #expect(abs(sigma / 1.6 - 1) < 0.2, "sigma \(sigma) at (\(s.x), \(s.y))")
                #expect(abs(radius - sigma * 2.0.squareRoot()) < 1e-9)
            }
        }
    }

    @Test func csvColumnsAndDiscBlobs() throws {
        let dir = try temporaryFolder()
        let csv = dir.appendingPathComponent("p.csv"), blobs = dir.appendingPathComponent("b.png")
        let r = try PeaksExecutable.run(["detect", sample, "--algo", "log", "-o", csv.path, "--blobs", blobs.path])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "x,y,value,sigma,radius,response,snr,polarity,amplitude,fitted")
        let labels = try ImageFile.read(blobs.path)
        for (k, line) in lines.dropFirst().enumerated() {
            let cells = line.split(separator: ",").compactMap { Double($0) }
            let x = Int(cells[0].rounded()), y = Int(cells[1].rounded()), radius = cells[4]
            #expect(labels[x, y] == Float(k + 1), "peak \(k) is not inside its own disc")
            // A pixel just inside the radius along x belongs to this blob or a nearer one.
            let inside = Int((cells[0] + 0.8 * radius).rounded(.down))
            if inside < labels.width { #expect(labels[inside, y] != 0) }
        }
    }

    @Test func rerunsAreByteIdentical() throws {
        let a = try PeaksExecutable.run(["detect", sample, "--algo", "log", "--refine", "quadratic", "-p", "polarity=both"])
        let b = try PeaksExecutable.run(["detect", sample, "--algo", "log", "--refine", "quadratic", "-p", "polarity=both"])
        #expect(a.status == 0 && a.stdout == b.stdout && !a.stdout.isEmpty)
    }

    @Test func algorithmsListsLog() throws {
        let r = try PeaksExecutable.run(["algorithms"])
        #expect(r.status == 0)
        for text in ["log", "-p max_power=", "-p polarity=", "-p overlap=", "-p noise_factor=", "-p edge_ratio=", "-p local_noise="] {
            #expect(r.stdout.contains(text), "'\(text)' missing from peaks algorithms")
        }
    }
}

@Suite struct RefineOption {
    /// Persistence reports pixel centres; --refine gaussian moves them towards the generating
    /// spot centres of the sample (mean error measured: 0.44 px before, 0.19 px after; the spots sit on a sloped, noisy background).
    @Test func gaussianRefinementApproachesTheTruth() throws {
        // Summit pixels from the detector (-p refine=none), then --refine.
        let r = try PeaksExecutable.run(["detect", sample, "--noise", "poisson", "-p", "refine=none", "--refine", "gaussian"])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try json(r.stdout)
        let peaks = try #require(doc["peaks"] as? [[String: Any]])
        let diagnostics = try #require(doc["diagnostics"] as? [String: Any])
        #expect(diagnostics["refine"] as? String == "gaussian" && diagnostics["refine_size"] as? Int == 3)
        let truth = SampleImages.lattice().spots
        var before = 0.0, after = 0.0, n = 0
        for p in peaks {
            guard let x = p["x"] as? Double, let y = p["y"] as? Double,
                  let x0 = p["detector_x"] as? Double, let y0 = p["detector_y"] as? Double,
                  let refined = p["refined"] as? Double else { Issue.record("missing fields in \(p)"); continue }
            #expect(x0 == x0.rounded() && y0 == y0.rounded())
            #expect(abs(x - x0) <= 1 && abs(y - y0) <= 1)
            guard refined == 1, let s = truth.first(where: { abs($0.x - x) < 1.5 && abs($0.y - y) < 1.5 }) else { continue }
            before += ((x0 - s.x) * (x0 - s.x) + (y0 - s.y) * (y0 - s.y)).squareRoot()
            after += ((x - s.x) * (x - s.x) + (y - s.y) * (y - s.y)).squareRoot()
            n += 1
        }
        #expect(n > 140)
        print("--refine gaussian on the sample: mean error \(before / Double(n)) px -> \(after / Double(n)) px over \(n) spots")
        #expect(after < 0.5 * before)
    }

    @Test func windowedMethodsTakeASizeAndNoneChangesNothing() throws {
        let com = try PeaksExecutable.run(["detect", sample, "--refine", "com", "--refine-size", "7", "--format", "csv"])
        #expect(com.status == 0, "\(com.stderr)")
        #expect(com.stdout.hasPrefix("x,y,value,prominence,birth_level,saddle_x,saddle_y,saddle_level,fitted,detector_x,detector_y,refined\n"))
        let plain = try PeaksExecutable.run(["detect", sample])
        let none = try PeaksExecutable.run(["detect", sample, "--refine", "none"])
        #expect(plain.status == 0 && none.stdout == plain.stdout)
    }

    @Test func masksAreRespected() throws {
        let dir = try temporaryFolder()
        let image = try ImageFile.read(sample)
        var valid = [Float](repeating: 1, count: image.count)
        for y in 0..<image.height { for x in 0..<image.width where x >= 150 && x < 175 { valid[y * image.width + x] = 0 } }
        let maskPath = dir.appendingPathComponent("mask.npy")
        try Data(NPY.encodeFloat32(Image(width: image.width, height: image.height, pixels: valid))).write(to: maskPath)
        let r = try PeaksExecutable.run(["detect", sample, "--mask", maskPath.path, "--refine", "com", "--refine-size", "9"])
        #expect(r.status == 0, "\(r.stderr)")
        let peaks = try #require(try json(r.stdout)["peaks"] as? [[String: Any]])
        for p in peaks {
            let x = try #require(p["x"] as? Double)
            #expect(Int(x.rounded()) < 150 || Int(x.rounded()) >= 175, "a refined peak on a masked pixel at x = \(x)")
            if let x0 = p["detector_x"] as? Double, abs(x0 - 150) <= 4 || abs(x0 - 174) <= 4 {
                #expect(p["refined"] as? Double == 0, "a window touching the mask was used")
            }
        }
    }
}
