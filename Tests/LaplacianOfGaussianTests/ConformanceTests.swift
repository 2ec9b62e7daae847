import DetectorConformance
import Foundation
import Harness
import LaplacianOfGaussian
import PeakKit
import Testing

@Suite struct LoGConformance {
    @Test func passesTheConformanceSuite() {
        let failures = DetectorConformance.failures(of: LoGDetector())
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}

@Suite struct LoGExplore {
    @Test func noiseTable() throws {
        var rng = SeededRandom(seed: 11)
        var image = Image(width: 1024, height: 1024, repeating: 100)
        SpotRenderer.addGaussianNoise(&image, sigma: 1, rng: &rng)
        let d = try LoGDetector().detect(in: image, ["prominence": .real(0), "overlap": .real(1)])
        print("noise", d.diagnostic("response_noise") ?? .null)
        for pruned in [false, true] {
            let e = pruned ? try LoGDetector().detect(in: image, ["prominence": .real(0)]) : d
            var line = "pruned \(pruned) maxima \(e.peaks.count):"
            for t in [3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0] {
                line += " >\(t): \(e.peaks.filter { ($0["snr"] ?? 0) > t }.count)"
            }
            print(line)
        }
        var byScale: [Int: Int] = [:]
        for p in d.peaks where (p["snr"] ?? 0) > 4 { byScale[Int((log(p["sigma"]!) / log(1.41)).rounded()), default: 0] += 1 }
        print("by scale >4:", byScale.sorted { $0.key < $1.key })
    }

    @Test func spots() throws {
        for s in [1.0, 1.5, 2.0, 3.0, 5.0] {
            var worst = 0.0, sigmas: [Double] = []
            for j in 0..<5 {
                for i in 0..<5 {
                    var image = Image(width: 64, height: 64, repeating: 10)
                    let x = 31.0 + Double(i) * 0.2, y = 32.0 + Double(j) * 0.2
                    SpotRenderer.add([Spot(x: x, y: y, amplitude: 100, sigma: s)], to: &image)
                    let d = try LoGDetector().detect(in: image)
                    guard let p = d.peaks.first else { print("missed"); continue }
                    worst = max(worst, ((p.x - x) * (p.x - x) + (p.y - y) * (p.y - y)).squareRoot())
                    sigmas.append(p["sigma"]!)
                }
            }
            print("sigma \(s): worst loc \(worst), sigma range \(sigmas.min()!) \(sigmas.max()!)")
        }
    }
}

@Suite struct LoGExploreQuality {
    @Test(arguments: [4.0, 4.5, 5.0]) func quality(factor: Double) throws {
        let scene = QualityScene.make()
        let d = try LoGDetector().detect(in: scene.image, ["noise_factor": .real(factor)])
        var missed: [String] = [], sigmaErr: [Double] = [], used = Set<Int>()
        for (s, m) in zip(scene.spots, scene.snr) {
            let hit = d.peaks.enumerated().filter { abs($0.element.x - s.x) < 2 && abs($0.element.y - s.y) < 2 }.first
            if let hit { used.insert(hit.offset); sigmaErr.append(abs(hit.element["sigma"]! / s.sigma - 1)) } else { missed.append("(s \(s.sigma) m \(m))") }
        }
        let extra = d.peaks.enumerated().filter { !used.contains($0.offset) }.map { "(\(Int($0.element.x)),\(Int($0.element.y)) s\(String(format: "%.1f", $0.element["sigma"]!)) snr\(String(format: "%.1f", $0.element["snr"]!)))" }
        print("factor \(factor): spots \(scene.spots.count) peaks \(d.peaks.count) missed \(missed) worst sigma err \(sigmaErr.max() ?? 0) extra \(extra.count): \(extra.prefix(20))")
    }
}

@Suite struct LoGExplore2 {
    @Test func detail() throws {
        let scene = QualityScene.make()
        let d = try LoGDetector().detect(in: scene.image, ["prominence": .real(0)])
        for (s, m) in zip(scene.spots, scene.snr) {
            let hit = d.peaks.filter { abs($0.x - s.x) < 2 && abs($0.y - s.y) < 2 }.max { $0.strength < $1.strength }
            if let hit, abs(hit["sigma"]! / s.sigma - 1) > 0.08 || s.sigma == 1 && m == 5 {
                print("s \(s.sigma) m \(m): sigma \(hit["sigma"]!) snr \(hit["snr"]!) dx \(hit.x - s.x) dy \(hit.y - s.y)")
            }
        }
    }
    @Test func faintSmall() throws {
        var snrs: [Double] = []
        for seed in 0..<6 {
            var rng = SeededRandom(seed: UInt64(100 + seed))
            var image = Image(width: 256, height: 256, repeating: 100)
            var spots: [Spot] = []
            for gy in Swift.stride(from: 16, to: 250, by: 32) { for gx in Swift.stride(from: 16, to: 250, by: 32) {
                spots.append(Spot(x: Double(gx) + rng.uniform(-0.5, 0.5), y: Double(gy) + rng.uniform(-0.5, 0.5), amplitude: 5, sigma: 1))
            } }
            SpotRenderer.add(spots, to: &image)
            SpotRenderer.addGaussianNoise(&image, sigma: 1, rng: &rng)
            let d = try LoGDetector().detect(in: image, ["prominence": .real(0)])
            for s in spots {
                let hit = d.peaks.filter { abs($0.x - s.x) < 2 && abs($0.y - s.y) < 2 }.max { $0.strength < $1.strength }
                snrs.append(hit?["snr"] ?? 0)
            }
        }
        snrs.sort()
        print("faint sigma1 amp5: n \(snrs.count) min \(snrs.first!) p5 \(snrs[snrs.count / 20]) median \(snrs[snrs.count / 2]) >4: \(snrs.filter { $0 > 4 }.count) >4.5: \(snrs.filter { $0 > 4.5 }.count) >5: \(snrs.filter { $0 > 5 }.count)")
    }
}

@Suite struct LoGExplore3 {
    @Test func cleanAndSigma() throws {
        let clean = QualityScene.make(noisy: false)
        let d = try LoGDetector().detect(in: clean.image)
        var worstLoc = 0.0, worstSigma = 0.0, missed = 0
        for s in clean.spots {
            guard let hit = d.peaks.filter({ abs($0.x - s.x) < 2 && abs($0.y - s.y) < 2 }).max(by: { $0.strength < $1.strength }) else { missed += 1; continue }
            worstLoc = max(worstLoc, ((hit.x - s.x) * (hit.x - s.x) + (hit.y - s.y) * (hit.y - s.y)).squareRoot())
            worstSigma = max(worstSigma, abs(hit["sigma"]! / s.sigma - 1))
        }
        print("clean: peaks \(d.peaks.count) spots \(clean.spots.count) missed \(missed) worstLoc \(worstLoc) worstSigma \(worstSigma)")
        var errs: [Double: [Double]] = [:]
        for seed in 1...4 {
            let scene = QualityScene.make(seed: UInt64(seed))
            let e = try LoGDetector().detect(in: scene.image)
            for (s, m) in zip(scene.spots, scene.snr) {
                guard let hit = e.peaks.filter({ abs($0.x - s.x) < 2 && abs($0.y - s.y) < 2 }).max(by: { $0.strength < $1.strength }) else { continue }
                errs[m, default: []].append(abs(hit["sigma"]! / s.sigma - 1))
            }
        }
        for (m, e) in errs.sorted(by: { $0.key < $1.key }) {
            let sorted = e.sorted()
            print("m \(m): n \(e.count) median \(sorted[e.count / 2]) p90 \(sorted[e.count * 9 / 10]) max \(sorted.last!)")
        }
    }
    @Test func slope() throws {
        var rng = SeededRandom(seed: 5)
        var image = Image(width: 512, height: 512) { x, y in Float(100 + 0.5 * Double(x) + 0.3 * Double(y)) }
        let flat = try LoGDetector().detect(in: image)
        SpotRenderer.addGaussianNoise(&image, sigma: 1, rng: &rng)
        let d = try LoGDetector().detect(in: image)
        print("slope clean peaks \(flat.peaks.count); noisy peaks \(d.peaks.count): \(d.peaks.prefix(10).map { "(\(Int($0.x)),\(Int($0.y)) s\($0["sigma"]!) snr \($0["snr"]!))" })")
    }
}
