#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A point in image coordinates (x = column, y = row; pixel (0, 0) centred at (0.0, 0.0)).
public struct Point: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

/// One matched pair: `detections[detection]` is matched to `truth[truth]`.
public struct MatchPair: Sendable, Equatable {
    public var detection: Int
    public var truth: Int
    /// Euclidean distance in pixels.
    public var distance: Double
    /// Detection minus truth, in pixels.
    public var dx: Double
    public var dy: Double
}

/// The outcome of matching detections to truth.
public struct MatchResult: Sendable, Equatable {
    /// Matched pairs, ordered by truth index.
    public var pairs: [MatchPair]
    /// Indices of detections matched to nothing (false positives), ascending.
    public var unmatchedDetections: [Int]
    /// Indices of truth peaks matched to nothing (misses, false negatives), ascending.
    public var unmatchedTruth: [Int]

    public var totalDistance: Double { pairs.reduce(0) { $0 + $1.distance } }
}

/// One-to-one matching of detections to ground truth, as scored by the ISBI 2012 particle
/// tracking challenge (Chenouard et al., Nat. Methods 11:281, 2014) and the EPFL SMLM challenge
/// (Sage et al., Nat. Methods 12:717, 2015; 16:387, 2019).
///
/// A detection and a truth peak may be paired when their distance is `<= tolerance`. Among all
/// one-to-one pairings (each detection and each truth peak in at most one pair) the matcher
/// returns one that first **maximises the number of pairs** and then **minimises the sum of the
/// pair distances**. It is solved exactly with the Hungarian (Kuhn-Munkres) algorithm on the
/// cost `d_ij - K` for allowed pairs and `0` otherwise, with `K = tolerance (min(n, m) + 1) + 1`
/// larger than any possible sum of distances: one more pair always lowers the cost by more than
/// any rearrangement of distances can raise it.
///
/// To stay fast with many detections (noise peaks), the bipartite graph of allowed pairs is
/// split into connected components (found through a grid of cells `tolerance` wide) and each
/// component is solved on its own; the optimum of the whole is the union of the components' optima.
public enum Matching {
    /// Matches `detections` to `truth`.
    /// - Precondition: `tolerance` is finite and >= 0 (callers validate user input).
    public static func match(detections: [Point], truth: [Point], tolerance: Double) -> MatchResult {
        precondition(tolerance.isFinite && tolerance >= 0, "tolerance must be finite and >= 0")
        let n = detections.count, m = truth.count
        // Candidate edges through a grid over the truth points.
        let cell = max(tolerance, 1e-9)
        func key(_ p: Point) -> (Int, Int)? {
            let kx = (p.x / cell).rounded(.down), ky = (p.y / cell).rounded(.down)
            guard kx.isFinite, ky.isFinite, abs(kx) < 1e15, abs(ky) < 1e15 else { return nil }
            return (Int(kx), Int(ky))
        }
        struct Cell: Hashable { let x: Int; let y: Int }
        var grid: [Cell: [Int]] = [:]
        for (j, t) in truth.enumerated() {
            if let k = key(t) { grid[Cell(x: k.0, y: k.1), default: []].append(j) }
        }
        // Union-find over nodes 0..<n (detections) and n..<n+m (truth).
        var parent = Array(0..<(n + m))
        func find(_ a: Int) -> Int {
            var a = a
            while parent[a] != a { parent[a] = parent[parent[a]]; a = parent[a] }
            return a
        }
        var edges: [(Int, Int, Double)] = []
        for (i, d) in detections.enumerated() {
            guard let k = key(d) else { continue }
            for gy in (k.1 - 1)...(k.1 + 1) {
                for gx in (k.0 - 1)...(k.0 + 1) {
                    for j in grid[Cell(x: gx, y: gy)] ?? [] {
                        let dist = hypot(d.x - truth[j].x, d.y - truth[j].y)
                        if dist <= tolerance {
                            edges.append((i, j, dist))
                            let a = find(i), b = find(n + j)
                            if a != b { parent[max(a, b)] = min(a, b) }
                        }
                    }
                }
            }
        }
        // Components with at least one edge.
        var members: [Int: (dets: [Int], truths: [Int])] = [:]
        var edgeCount: [Int: Int] = [:]
        for e in edges { edgeCount[find(e.0), default: 0] += 1 }
        for i in 0..<n where edgeCount[find(i)] != nil { members[find(i), default: ([], [])].dets.append(i) }
        for j in 0..<m where edgeCount[find(n + j)] != nil { members[find(n + j), default: ([], [])].truths.append(j) }
        var distance: [Int: [Int: Double]] = [:]  // detection -> truth -> distance
        for e in edges { distance[e.0, default: [:]][e.1] = e.2 }

        var pairs: [MatchPair] = []
        for root in members.keys.sorted() {
            guard let comp = members[root] else { continue }
            let dets = comp.dets, truths = comp.truths
            let k = tolerance * Double(min(dets.count, truths.count) + 1) + 1
            // Rows = the smaller side.
            let detsAreRows = dets.count <= truths.count
            let rows = detsAreRows ? dets : truths, cols = detsAreRows ? truths : dets
            var cost = [[Double]](repeating: [Double](repeating: 0, count: cols.count), count: rows.count)
            for (r, a) in rows.enumerated() {
                for (c, b) in cols.enumerated() {
                    let (di, tj) = detsAreRows ? (a, b) : (b, a)
                    if let d = distance[di]?[tj] { cost[r][c] = d - k }
                }
            }
            let assignment = assign(cost: cost)
            for (r, c) in assignment.enumerated() {
                let (di, tj) = detsAreRows ? (rows[r], cols[c]) : (cols[c], rows[r])
                guard let d = distance[di]?[tj] else { continue }  // a zero-cost filler: not a pair
                pairs.append(MatchPair(
                    detection: di, truth: tj, distance: d,
                    dx: detections[di].x - truth[tj].x, dy: detections[di].y - truth[tj].y))
            }
        }
        pairs.sort { $0.truth < $1.truth }
        var detectionUsed = [Bool](repeating: false, count: n), truthUsed = [Bool](repeating: false, count: m)
        for p in pairs { detectionUsed[p.detection] = true; truthUsed[p.truth] = true }
        return MatchResult(
            pairs: pairs,
            unmatchedDetections: (0..<n).filter { !detectionUsed[$0] },
            unmatchedTruth: (0..<m).filter { !truthUsed[$0] })
    }

    /// The Hungarian (Kuhn-Munkres) algorithm with potentials, O(n^2 m): assigns every row of
    /// an n x m cost matrix (n <= m) to a distinct column so that the total cost is minimal.
    /// Returns the column of each row. (Kuhn 1955; Munkres 1957; the shortest-augmenting-path
    /// form with row and column potentials u, v, keeping `cost[i][j] - u[i] - v[j] >= 0`.)
    /// - Precondition: every row has the same length m >= n, and all costs are finite.
    public static func assign(cost: [[Double]]) -> [Int] {
        let n = cost.count
        guard n > 0 else { return [] }
        let m = cost[0].count
        precondition(m >= n && cost.allSatisfy { $0.count == m }, "assign needs an n x m matrix with n <= m")
        // 1-based arrays, index 0 is the virtual column/row of the algorithm.
        var u = [Double](repeating: 0, count: n + 1), v = [Double](repeating: 0, count: m + 1)
        var p = [Int](repeating: 0, count: m + 1), way = [Int](repeating: 0, count: m + 1)
        for i in 1...n {
            p[0] = i
            var j0 = 0
            var minv = [Double](repeating: .infinity, count: m + 1)
            var used = [Bool](repeating: false, count: m + 1)
            repeat {
                used[j0] = true
                let i0 = p[j0]
                var delta = Double.infinity
                var j1 = 0
                for j in 1...m where !used[j] {
                    let cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j] { minv[j] = cur; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                for j in 0...m {
                    if used[j] { u[p[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while p[j0] != 0
            repeat {
                let j1 = way[j0]
                p[j0] = p[j1]
                j0 = j1
            } while j0 != 0
        }
        var result = [Int](repeating: -1, count: n)
        for j in 1...m where p[j] != 0 { result[p[j] - 1] = j - 1 }
        return result
    }
}

/// Detection scores from matched pairs (the ISBI 2012 and EPFL SMLM definitions).
///
/// - TP = matched pairs, FP = unmatched detections, FN = unmatched truth peaks;
/// - precision = TP / (TP + FP) (1 when there is no detection);
/// - recall = TP / (TP + FN) (1 when there is no truth peak);
/// - F1 = 2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall (1 when all counts are 0);
/// - Jaccard = TP / (TP + FP + FN) (1 when all counts are 0);
/// - RMSE = sqrt(mean of squared pair distances) in pixels (nil without pairs);
/// - bias = (mean dx, mean dy) of detection minus truth over the pairs (nil without pairs).
///
/// Scores of several images add up by summing the counts and pooling the pairs (micro-average),
/// which is what `+` does.
public struct Scores: Sendable, Equatable {
    public var truePositives: Int
    public var falsePositives: Int
    public var falseNegatives: Int
    public var sumSquaredDistance: Double
    public var sumDx: Double
    public var sumDy: Double

    public init(truePositives: Int = 0, falsePositives: Int = 0, falseNegatives: Int = 0,
                sumSquaredDistance: Double = 0, sumDx: Double = 0, sumDy: Double = 0) {
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.falseNegatives = falseNegatives
        self.sumSquaredDistance = sumSquaredDistance
        self.sumDx = sumDx
        self.sumDy = sumDy
    }

    public init(_ r: MatchResult) {
        self.init(
            truePositives: r.pairs.count, falsePositives: r.unmatchedDetections.count,
            falseNegatives: r.unmatchedTruth.count,
            sumSquaredDistance: r.pairs.reduce(0) { $0 + $1.distance * $1.distance },
            sumDx: r.pairs.reduce(0) { $0 + $1.dx }, sumDy: r.pairs.reduce(0) { $0 + $1.dy })
    }

    public static func + (a: Scores, b: Scores) -> Scores {
        Scores(truePositives: a.truePositives + b.truePositives, falsePositives: a.falsePositives + b.falsePositives,
               falseNegatives: a.falseNegatives + b.falseNegatives,
               sumSquaredDistance: a.sumSquaredDistance + b.sumSquaredDistance,
               sumDx: a.sumDx + b.sumDx, sumDy: a.sumDy + b.sumDy)
    }

    var tp: Double { Double(truePositives) }
    public var precision: Double { truePositives + falsePositives == 0 ? 1 : tp / Double(truePositives + falsePositives) }
    public var recall: Double { truePositives + falseNegatives == 0 ? 1 : tp / Double(truePositives + falseNegatives) }
    public var f1: Double {
        let d = 2 * truePositives + falsePositives + falseNegatives
        return d == 0 ? 1 : 2 * tp / Double(d)
    }
    public var jaccard: Double {
        let d = truePositives + falsePositives + falseNegatives
        return d == 0 ? 1 : tp / Double(d)
    }
    public var rmse: Double? { truePositives == 0 ? nil : (sumSquaredDistance / tp).squareRoot() }
    public var biasX: Double? { truePositives == 0 ? nil : sumDx / tp }
    public var biasY: Double? { truePositives == 0 ? nil : sumDy / tp }
}

extension Scores {
    /// Scores with "ignore" points (objects that are neither true nor false positives, and never
    /// misses), as Benchmarks/reference/score_peaks.py: detections are matched to `truth` first
    /// (`Matching.match`); the detections left unmatched are then matched one-to-one, the same
    /// way, to `ignore`, and those matched are dropped. TP = pairs of the first matching, FP =
    /// detections left after the second, FN = truth peaks left unmatched.
    public init(detections: [Point], truth: [Point], ignore: [Point], tolerance: Double) {
        let first = Matching.match(detections: detections, truth: truth, tolerance: tolerance)
        self.init(first)
        guard !ignore.isEmpty, !first.unmatchedDetections.isEmpty else { return }
        let rest = first.unmatchedDetections.map { detections[$0] }
        let dropped = Matching.match(detections: rest, truth: ignore, tolerance: tolerance).pairs.count
        falsePositives -= dropped
    }
}
