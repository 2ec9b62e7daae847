import Foundation
import Harness
import ImageIO
import PeakKit
import Persistence
import Testing

/// Every Golden/real case (real images, truth built without peaks) with the default detector
/// (`persistence`, what `peaks detect IMAGE` runs) and its default parameters, scored as
/// Benchmarks/reference/score_peaks.py scores the peers (one-to-one matching at the case's
/// tolerance; detections matched to "ignore" points dropped). Floors come from
/// Golden/real/peers.csv: F1 >= the best peer's rule-based F1 - 0.02 and RMSE <= that peer's RMSE,
/// except where an exemption below says what peaks reaches and by how much it falls short.
/// A regression on any case fails.
@Suite("Golden/real corpus")
struct RealCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Golden/real")

    /// Cases where peaks does not reach the peers' floor: the floor is what peaks reaches (rounded
    /// down), with the shortfall. Measured with the defaults of this commit.
    static let exemptions: [String: (f1: Double?, rmse: Double?, why: String)] = [
        // Nuclei (radius 12 px, filling much of the field): F1 0.820 (blob_log 0.808) with the
        // propagated band noise that band_noise=auto picks here, but the dim nuclei it finds
        // and blob_log does not are located less well: RMSE 2.000 px over 84 matches vs
        // blob_log's 1.877 over 82 (2.125 before refine=fit, 1.998 before the along-edge
        // positions of session 14; with band_noise=mad: F1 0.303). On the 76 nuclei both find,
        // 1.767 against 1.800 (`corpusCase` checks it; the 8 found only by peaks: 3.51 px). The
        // excess is nuclei cut by the frame (summit on the edge pixel, truth the centroid of the
        // visible label): without truths within 12 px of the edge, 1.821 (80) against 1.857
        // (81). docs/real-data.md has the analysis.
        "fluo-nuclei-stardist": (nil, 2.005, "RMSE 2.000 vs 1.877"),
        // track-telomeres-f100 was exempt until session 11 (log-parabola positions, RMSE 0.122
        // vs find_peaks' 0.066); refine=fit gives 0.029.
    ]

    struct PeerBest { var f1: Double; var rmse: Double }

    static func peers() throws -> [String: PeerBest] {
        let text = try String(contentsOf: root.appendingPathComponent("peers.csv"), encoding: .utf8)
        var best: [String: PeerBest] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let c = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard c.count >= 10, c[2].hasPrefix("rule"), let f1 = Double(c[8]) else { continue }
            let rmse = Double(c[9]) ?? .infinity
            if let b = best[c[0]], (b.f1, -b.rmse) >= (f1, -rmse) { continue }
            best[c[0]] = PeerBest(f1: f1, rmse: rmse)
        }
        return best
    }

    static var cases: [String] { RealCorpusCase.names(root: root) }

    /// Case `name` detected by persistence with `parameters` (defaults when empty), scored as
    /// the peers are.
    static func score(_ name: String, _ parameters: [String: ParameterValue] = [:]) throws -> (Scores, Detection) {
        let c = try RealCorpusCase(name, root: root)
        let detection = try PersistenceDetector().detect(in: c.image, parameters)
        return (c.score(detection.peaks), detection)
    }

    /// The floors, and (since session 12) the positions object by object: on the true objects
    /// that both peaks (defaults) and the best rule peer find, the RMSE of peaks' positions is at
    /// most the peer's. The RMSE over all matches (the floor) favours a tool that finds fewer,
    /// easier objects; the paired check compares the same objects. Measured (session 14):
    /// peaks is lower on all 15 cases, e.g. the nuclei 1.767 against blob_log's 1.800 px on the
    /// 76 both find (over all matches 2.000 on 84 against 1.877 on 82), MoS2 0.022 against
    /// 0.536, Hubble 0.170 against 0.377. One detection serves both checks.
    @Test("default detector reaches the peers' floor and locates the objects both find as well", arguments: RealCorpusTests.cases)
    func corpusCase(_ name: String) throws {
        let c = try RealCorpusCase(name, root: Self.root)
        let found = try PersistenceDetector().detect(in: c.image).peaks.map { Point(x: $0.x, y: $0.y) }
        let s = c.score(found)
        let peer = try #require(try Self.peers()[name])
        let exemption = Self.exemptions[name]
        let f1Floor = exemption?.f1 ?? (peer.f1 - 0.02)
        let rmseCeiling = exemption?.rmse ?? peer.rmse
        let rmse: Double = s.rmse ?? Double.infinity
        let counts = "TP \(s.truePositives), FP \(s.falsePositives), FN \(s.falseNegatives)"
        #expect(s.f1 >= f1Floor, "\(name): F1 \(s.f1) below the floor \(f1Floor) (\(counts))")
        #expect(rmse <= rmseCeiling, "\(name): RMSE \(rmse) above \(rmseCeiling)")

        // The peer's detections: scored here they give peers.csv's figures (a truncated,
        // corrupt or stale best-peer.csv fails here, not silently).
        let peerFound = try Self.bestPeerDetections(name)
        let rescored = c.score(peerFound)
        #expect(abs(rescored.f1 - peer.f1) < 5e-5 && abs((rescored.rmse ?? .infinity) - peer.rmse) < 5e-5,
                "\(name): best-peer.csv scores F1 \(rescored.f1), RMSE \(rescored.rmse ?? .nan); peers.csv says \(peer.f1), \(peer.rmse)")
        func distances(_ d: [Point]) -> [Int: Double] {
            var byTruth: [Int: Double] = [:]
            for p in Matching.match(detections: d, truth: c.truth, tolerance: c.tolerance).pairs { byTruth[p.truth] = p.distance }
            return byTruth
        }
        let mine = distances(found), theirs = distances(peerFound)
        let common = mine.keys.filter { theirs[$0] != nil }
        try #require(!common.isEmpty, "\(name): no object found by both")
        func pairedRMSE(_ d: [Int: Double]) -> Double { (common.reduce(0) { $0 + d[$1]! * d[$1]! } / Double(common.count)).squareRoot() }
        #expect(pairedRMSE(mine) <= pairedRMSE(theirs),
                "\(name): on the \(common.count) objects both find, RMSE \(pairedRMSE(mine)) against the peer's \(pairedRMSE(theirs))")
    }

    /// The best rule peer's own detections (Golden/real/CASE/best-peer.csv, written by
    /// Benchmarks/reference/real_peer_detections.py, which checks they reproduce peers.csv).
    static func bestPeerDetections(_ name: String) throws -> [Point] {
        let text = try String(contentsOf: root.appendingPathComponent("\(name)/best-peer.csv"), encoding: .utf8)
        return text.split(whereSeparator: \.isNewline).dropFirst().compactMap { line in
            let c = line.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return c.count == 2 ? Point(x: c[0], y: c[1]) : nil
        }
    }

    /// band_noise=auto on the nuclei: the pixel noise is white (whiteness 1.02) and resolved
    /// (4.9 DN for a step of 1), so the band-passed noise is the pixel noise times the band-pass
    /// gain (0.22 instead of the MAD's 7.5). With `band_noise=mad` (the default until session 9)
    /// the nuclei inflate the MAD and only the brightest 20 of 112 pass.
    @Test func nucleiNeedThePropagatedBandNoise() throws {
        let name = "fluo-nuclei-stardist"
        let (auto, detection) = try Self.score(name)
        #expect(detection.diagnostic("noise_sigma_filtered_rule") == .string("white pixel noise x band-pass gain"))
        #expect(detection.diagnostic("noise_quantisation_step") == .number(1))
        let (mad, madDetection) = try Self.score(name, ["band_noise": .string("mad")])
        #expect(madDetection.diagnostic("noise_sigma_filtered") == detection.diagnostic("noise_sigma_band_mad"))
        #expect(auto.f1 > mad.f1 + 0.4, "auto F1 \(auto.f1), mad F1 \(mad.f1)")
    }

    /// A peak whose position fit runs away (ends on a bright spot beyond max(1, s) px of the
    /// summit) is dropped (session 21): on the STEM lattices and the Merlin pattern those were
    /// summits on a column's flank or on the hot first detector column, not spots. With the fit
    /// and the rule, fewer false peaks and no true one lost than with the log-parabola positions
    /// (`refine=gaussian`), which keep every summit: Merlin 1 -> 0 false peaks, ABF 11 -> 6, ADF
    /// 8 -> 5, MoS2 4 -> 2 (the same true peaks), each drop counted in `rejected_by_fit`.
    @Test(arguments: ["ed-merlin-spots", "stem-abf-srtio3", "stem-adf-srtio3", "stem-mos2-se"])
    func fitsThatRunAwayAreNotPeaks(_ name: String) throws {
        let (fit, detection) = try Self.score(name)
        let (parabola, _) = try Self.score(name, ["refine": .string("gaussian")])
        let dropped = try #require(detection.diagnostic("rejected_by_fit").flatMap { if case .integer(let n) = $0 { n } else { nil } })
        #expect(fit.truePositives == parabola.truePositives, "\(name): true peaks \(fit.truePositives) against \(parabola.truePositives)")
        #expect(fit.falsePositives < parabola.falsePositives, "\(name): false peaks \(fit.falsePositives) against \(parabola.falsePositives)")
        #expect(dropped >= parabola.falsePositives - fit.falsePositives, "\(name): \(dropped) dropped")
    }

    /// The Laue spots (sigma 0.5-0.7 px) set the spot scale (session 22): their response is
    /// largest at the finest scale, which has a finer one (0.4 px) to be a maximum against, and
    /// they reach the 20 noise units asked there. Until session 22 they cast no vote, and one or
    /// two broad bumps or hot pixels set the scale (0.89-1.12 px here, 1.78-3.56 px on held-out
    /// tiles of the same frame). Measured: 0.56 px on all three, with the same peaks.
    @Test(arguments: ["xray-laue-ge-a", "xray-laue-ge-b", "xray-laue-ge-c"])
    func sharpSpotsSetTheSpotScale(_ name: String) throws {
        let (scores, detection) = try Self.score(name)
        let smooth = try #require(detection.diagnostic("smooth").flatMap { if case .number(let v) = $0 { v } else { nil } })
        #expect(smooth < 0.6, "\(name): spot scale \(smooth) px")
        #expect(scores.f1 == 1, "\(name): F1 \(scores.f1)")
    }

    /// `--spot-size` with the objects' true sigma (what the peers are given) helps or costs at most
    /// 0.02 F1 against the measured scale on every case (session 26: `smooth` = sigma / sqrt 2;
    /// `smooth` = sigma, the rule until then, found 118 of ABF's 221 columns, F1 0.69 against 0.99
    /// without the hint, ADF 0.85 against 0.99 and the nuclei 0.71 against 0.82: smoothing at the
    /// spot's own sigma merges neighbours closer than 2.83 sigma). Measured now: ABF 0.993, ADF
    /// 0.996, the nuclei 0.810 (0.824 without), HybISS 1.000 (0.969), TERRA 0.968 (0.982).
    @Test(arguments: RealCorpusTests.cases)
    func theSpotSizeHintHelps(_ name: String) throws {
        let sigma = try #require(try RealCorpusCase(name, root: Self.root).spotSigma)
        let (measured, _) = try Self.score(name)
        let (hinted, detection) = try Self.score(name, ["spot_size": .real(sigma)])
        #expect(detection.diagnostic("smooth") == .number(sigma * PersistenceDetector.smoothPerSpotSigma))
        #expect(hinted.f1 >= measured.f1 - 0.02, "\(name): F1 \(hinted.f1) with --spot-size \(sigma), \(measured.f1) without")
    }

    /// The corpus is there: a missing or emptied Golden/real would otherwise pass the
    /// parameterised tests with no case.
    @Test func theCorpusIsPresent() {
        #expect(RealCorpusCase.names(root: RealCorpusTests.root).count >= 15)
    }
}
