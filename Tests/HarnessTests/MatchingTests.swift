import Foundation
import Testing
@testable import Harness

/// The reference: every one-to-one partial matching, enumerated. Returns the best (most pairs,
/// then least total distance) count and total distance.
func bruteForceMatch(_ d: [Point], _ t: [Point], tolerance: Double) -> (count: Int, total: Double) {
    var best = (count: 0, total: 0.0)
    var usedT = [Bool](repeating: false, count: t.count)
    func visit(_ i: Int, _ count: Int, _ total: Double) {
        if i == d.count {
            if count > best.count || (count == best.count && total < best.total - 1e-12) { best = (count, total) }
            return
        }
        visit(i + 1, count, total)  // detection i unmatched
        for j in t.indices where !usedT[j] {
            let dist = hypot(d[i].x - t[j].x, d[i].y - t[j].y)
            if dist <= tolerance {
                usedT[j] = true
                visit(i + 1, count + 1, total + dist)
                usedT[j] = false
            }
        }
    }
    visit(0, 0, 0)
    return best
}

@Suite struct MatchingTests {
    @Test func agreesWithBruteForceOnRandomSets() {
        var rng = SeededRandom(seed: 99)
        for trial in 0..<400 {
            let n = Int(rng.uniform(0, 7)), m = Int(rng.uniform(0, 7))
            // A small area so that candidate pairs overlap; some points on a grid to make ties.
            func point() -> Point {
                trial % 3 == 0 ? Point(x: Double(Int(rng.uniform(0, 5))), y: Double(Int(rng.uniform(0, 5))))
                    : Point(x: rng.uniform(0, 8), y: rng.uniform(0, 8))
            }
            let d = (0..<n).map { _ in point() }, t = (0..<m).map { _ in point() }
            let tol = [1.0, 2.0, 3.0][trial % 3]
            let r = Matching.match(detections: d, truth: t, tolerance: tol)
            let ref = bruteForceMatch(d, t, tolerance: tol)
            #expect(r.pairs.count == ref.count, "trial \(trial)")
            #expect(abs(r.totalDistance - ref.total) < 1e-9, "trial \(trial): \(r.totalDistance) vs \(ref.total)")
            // One-to-one, within tolerance, and the unmatched lists complete the picture.
            #expect(Set(r.pairs.map(\.detection)).count == r.pairs.count && Set(r.pairs.map(\.truth)).count == r.pairs.count)
            #expect(r.pairs.allSatisfy { $0.distance <= tol })
            #expect(r.pairs.count + r.unmatchedDetections.count == n && r.pairs.count + r.unmatchedTruth.count == m)
        }
    }

    @Test func hungarianAgreesWithPermutationsOnSquareMatrices() {
        var rng = SeededRandom(seed: 5)
        for _ in 0..<100 {
            let n = Int(rng.uniform(1, 6))
            let cost = (0..<n).map { _ in (0..<n).map { _ in Double(Int(rng.uniform(0, 10))) } }
            let a = Matching.assign(cost: cost)
            let total = a.enumerated().reduce(0) { $0 + cost[$1.offset][$1.element] }
            var best = Double.infinity
            func permute(_ prefix: [Int]) {
                if prefix.count == n { best = min(best, prefix.enumerated().reduce(0) { $0 + cost[$1.offset][$1.element] }); return }
                for j in 0..<n where !prefix.contains(j) { permute(prefix + [j]) }
            }
            permute([])
            #expect(total == best)
            #expect(Set(a).count == n)
        }
    }

    @Test func handCases() {
        // Empty detections, empty truth, both empty.
        let t = [Point(x: 0, y: 0), Point(x: 10, y: 0)]
        let none = Matching.match(detections: [], truth: t, tolerance: 3)
        #expect(none.pairs.isEmpty && none.unmatchedTruth == [0, 1])
        let s0 = Scores(none)
        #expect(s0.truePositives == 0 && s0.falseNegatives == 2 && s0.precision == 1 && s0.recall == 0 && s0.f1 == 0 && s0.jaccard == 0 && s0.rmse == nil)
        let noTruth = Matching.match(detections: t, truth: [], tolerance: 3)
        #expect(noTruth.unmatchedDetections == [0, 1])
        #expect(Scores(noTruth).recall == 1 && Scores(noTruth).precision == 0)
        let empty = Scores(Matching.match(detections: [], truth: [], tolerance: 3))
        #expect(empty.f1 == 1 && empty.jaccard == 1)

        // Greedy nearest-first would take (D0, T1) at distance 1 and leave T0 unmatched; the
        // optimum matches both: D0-T0 (2.5) and D1-T1 (2.5).
        let d = [Point(x: 2, y: 0), Point(x: 5.5, y: 0)]
        let truth = [Point(x: -0.5, y: 0), Point(x: 3, y: 0)]
        let r = Matching.match(detections: d, truth: truth, tolerance: 2.5)
        #expect(r.pairs.map { [$0.detection, $0.truth] } == [[0, 0], [1, 1]])

        // Boundary: distance exactly the tolerance is allowed.
        #expect(Matching.match(detections: [Point(x: 3, y: 4)], truth: [Point(x: 0, y: 0)], tolerance: 5).pairs.count == 1)
        #expect(Matching.match(detections: [Point(x: 3, y: 4.0001)], truth: [Point(x: 0, y: 0)], tolerance: 5).pairs.isEmpty)

        // Ties: two detections equally close to one truth peak: one TP, one FP.
        let tie = Matching.match(detections: [Point(x: -1, y: 0), Point(x: 1, y: 0)], truth: [Point(x: 0, y: 0)], tolerance: 3)
        #expect(tie.pairs.count == 1 && tie.unmatchedDetections.count == 1)

        // More pairs beat shorter distances: D0 near T0 (0.1) but D0 is the only partner of T1.
        let more = Matching.match(detections: [Point(x: 0, y: 0), Point(x: 1, y: 0)],
                                  truth: [Point(x: 0.1, y: 0), Point(x: -2, y: 0)], tolerance: 2)
        #expect(more.pairs.count == 2)

        // Scores by hand: 3 TP (errors 0.3, 0.4 and 0.5 along x), 1 FP, 2 FN.
        let dd = [Point(x: 0.3, y: 0), Point(x: 10.4, y: 0), Point(x: 20.5, y: 0), Point(x: 50, y: 50)]
        let tt = [Point(x: 0, y: 0), Point(x: 10, y: 0), Point(x: 20, y: 0), Point(x: 30, y: 0), Point(x: 40, y: 0)]
        let s = Scores(Matching.match(detections: dd, truth: tt, tolerance: 1))
        #expect(s.truePositives == 3 && s.falsePositives == 1 && s.falseNegatives == 2)
        #expect(abs(s.precision - 0.75) < 1e-12 && abs(s.recall - 0.6) < 1e-12)
        #expect(abs(s.f1 - 6.0 / 9.0) < 1e-12 && abs(s.jaccard - 0.5) < 1e-12)
        #expect(abs((s.rmse ?? 0) - ((0.09 + 0.16 + 0.25) / 3).squareRoot()) < 1e-12)
        #expect(abs((s.biasX ?? 0) - 0.4) < 1e-12 && s.biasY == 0)
    }

    @Test func manyDetectionsStayFast() {
        // 20000 noise detections around 200 truth peaks: components keep this quick.
        var rng = SeededRandom(seed: 1)
        let t = (0..<200).map { _ in Point(x: rng.uniform(0, 1000), y: rng.uniform(0, 1000)) }
        let d = (0..<20000).map { _ in Point(x: rng.uniform(0, 1000), y: rng.uniform(0, 1000)) } + t
        let r = Matching.match(detections: d, truth: t, tolerance: 3)
        #expect(r.pairs.count == 200)
        #expect(abs(r.totalDistance) < 1e-9)
    }
}
