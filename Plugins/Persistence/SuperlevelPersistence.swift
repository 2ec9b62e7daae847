import PeakKit

/// A birth-death pair of the 0-dimensional persistent homology of the superlevel-set filtration.
///
/// `birth` is the raster index (y * width + x) of the pixel where a connected component of
/// {pixel value >= t} appears as t decreases (a local maximum; for a plateau, its first pixel in
/// raster order). `death` is the pixel where that component merges into an older one (the saddle).
/// For an *essential* class, which never merges (the highest peak of each connected part of the
/// valid domain), `death` is the lowest pixel of that part, so its persistence is max - min.
public struct PersistencePair: Sendable, Equatable {
    public var birth: Int
    public var death: Int
    public var birthLevel: Float
    public var deathLevel: Float
    public var isEssential: Bool

    /// birth level - death level: the peak's prominence.
    public var persistence: Float { birthLevel - deathLevel }
}

/// The finite-persistence diagram of an image: every pair with persistence > 0 and every
/// essential class (which may have persistence 0, on a constant part).
public struct PersistenceDiagram: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pairs: [PersistencePair]
    /// Connected parts (8-connectivity) of the valid domain: the number of essential classes.
    public var componentCount: Int
}

/// The merge tree recorded during the filtration, enough to draw each peak's basin.
public struct MergeTree: Sendable {
    /// Per pixel: the birth pixel of the component it joined (the oldest one it touched), -1 if invalid.
    var joined: [Int32]
    /// Per birth pixel: the birth pixel of the component it merged into (-1 = never merged).
    var mergedInto: [Int32]

    /// Labels per pixel: pixel p gets label L of the youngest listed peak whose basin contains p,
    /// where the basin of a peak is the connected component of {value > saddle level} holding it.
    /// In merge-tree terms: the first listed component on the path from the component p joined
    /// up through the components it merged into. `labelOfBirth` maps birth pixels to labels >= 1.
    public consuming func labels(labelOfBirth: [Int: Int32]) -> [Int32] {
        var up = mergedInto
        var out = joined
        up.withUnsafeMutableBufferPointer { up in
            // Encoding in `up`: >= 0 parent birth pixel, -1 root, <= -2 resolved label (-2 - label).
            for (b, l) in labelOfBirth { up[b] = -2 &- l }
            var path: [Int] = []
            out.withUnsafeMutableBufferPointer { out in
                for p in 0..<out.count {
                    let start = Int(out[p])
                    if start < 0 { out[p] = 0; continue }
                    var b = start
                    var label: Int32 = 0
                    while true {
                        let u = up[b]
                        if u <= -2 { label = -2 &- u; break }
                        if u == -1 { label = 0; break }
                        path.append(b)
                        b = Int(u)
                    }
                    for node in path { up[node] = -2 &- label }
                    path.removeAll(keepingCapacity: true)
                    out[p] = label
                }
            }
        }
        return out
    }
}

/// 0-dimensional persistent homology of the superlevel sets of an image, by union-find.
///
/// Pixels are visited from the highest value to the lowest (ties: lower raster index first, which
/// is a total order, so equal values are handled as if perturbed infinitesimally: two equal peaks
/// separated by a lower saddle are two pairs, and a flat plateau is one component). Each pixel
/// starts a new component and is then united with the components of its already-visited
/// 8-neighbours. When two components meet, the one whose birth comes later in the order (the
/// lower peak) dies at the current pixel: the elder rule. Union by rank with path halving makes
/// the whole pass O(N alpha(N)) after the O(N) radix sort.
///
/// Memory: 16 bytes per valid pixel while sorting; then 4 (order) + 4 (parent) + 4 (birth) +
/// 1 (rank) = 13 bytes per pixel, plus 8 more when the merge tree is recorded for basins.
public enum SuperlevelPersistence {
    public static func diagram(of image: Image, mask: Mask? = nil) -> PersistenceDiagram {
        compute(image, mask: mask, recordMergeTree: false).diagram
    }

    public static func compute(_ image: Image, mask: Mask?, recordMergeTree: Bool) -> (diagram: PersistenceDiagram, tree: MergeTree?) {
        let width = image.width, height = image.height, n = image.count
        return image.pixels.withUnsafeBufferPointer { values in
            let order: [UInt32]
            if let mask {
                order = mask.isValid.withUnsafeBufferPointer { PixelOrder.sortedDescending(values, valid: $0) }
            } else {
                order = PixelOrder.sortedDescending(values, valid: nil)
            }
            let parent = UnsafeMutablePointer<Int32>.allocate(capacity: max(n, 1))
            let birth = UnsafeMutablePointer<Int32>.allocate(capacity: max(n, 1))
            let rank = UnsafeMutablePointer<UInt8>.allocate(capacity: max(n, 1))
            rank.initialize(repeating: 0, count: n)  // 0 = not yet visited; else rank + 1
            defer { parent.deallocate(); birth.deallocate(); rank.deallocate() }
            var joined = recordMergeTree ? [Int32](repeating: -1, count: n) : []
            var mergedInto = recordMergeTree ? [Int32](repeating: -1, count: n) : []

            @inline(__always) func find(_ start: Int) -> Int {
                var x = start
                while true {
                    let px = Int(parent[x])
                    if px == x { return x }
                    let gp = parent[px]
                    parent[x] = gp  // path halving
                    x = Int(gp)
                }
            }

            var pairs: [PersistencePair] = []
            var components = 0
            joined.withUnsafeMutableBufferPointer { joined in
                mergedInto.withUnsafeMutableBufferPointer { mergedInto in
                    for r in 0..<order.count {
                        let p = Int(order[r])
                        let y = p / width, x = p &- y &* width
                        parent[p] = Int32(truncatingIfNeeded: p)
                        birth[p] = Int32(truncatingIfNeeded: p)
                        rank[p] = 1
                        components &+= 1
                        var root = p
                        let level = values[p]
                        let dyLow = y > 0 ? -1 : 0, dyHigh = y < height - 1 ? 1 : 0
                        let dxLow = x > 0 ? -1 : 0, dxHigh = x < width - 1 ? 1 : 0
                        for dy in dyLow...dyHigh {
                            let rowOffset = p &+ dy &* width
                            for dx in dxLow...dxHigh {
                                let q = rowOffset &+ dx
                                if q == p || rank[q] == 0 { continue }
                                let rq = find(q)
                                if rq == root { continue }
                                // The elder rule: the component born earlier in the order survives.
                                let bq = Int(birth[rq]), bp = Int(birth[root])
                                let vq = values[bq], vb = values[bp]
                                let qIsOlder = vq > vb || (vq == vb && bq < bp)
                                let older = qIsOlder ? bq : bp, younger = qIsOlder ? bp : bq
                                if younger != p {
                                    let youngerLevel = values[younger]
                                    if youngerLevel > level {
                                        pairs.append(PersistencePair(
                                            birth: younger, death: p, birthLevel: youngerLevel,
                                            deathLevel: level, isEssential: false))
                                    }
                                    if recordMergeTree { mergedInto[younger] = Int32(truncatingIfNeeded: older) }
                                }
                                // Union by rank.
                                let newRoot: Int
                                if rank[rq] < rank[root] {
                                    parent[rq] = Int32(truncatingIfNeeded: root); newRoot = root
                                } else if rank[rq] > rank[root] {
                                    parent[root] = Int32(truncatingIfNeeded: rq); newRoot = rq
                                } else {
                                    parent[rq] = Int32(truncatingIfNeeded: root); rank[root] &+= 1; newRoot = root
                                }
                                birth[newRoot] = Int32(truncatingIfNeeded: older)
                                root = newRoot
                                components &-= 1
                            }
                        }
                        if recordMergeTree { joined[p] = birth[root] }
                    }
                }
            }

            // Essential classes: one per connected part; its death is the part's lowest pixel,
            // the first pixel of the part met when walking the order backwards.
            var found: Set<Int> = []
            var r = order.count - 1
            while found.count < components && r >= 0 {
                let p = Int(order[r])
                let b = Int(birth[find(p)])
                if !found.contains(b) {
                    found.insert(b)
                    pairs.append(PersistencePair(
                        birth: b, death: p, birthLevel: values[b], deathLevel: values[p], isEssential: true))
                }
                r -= 1
            }
            let diagram = PersistenceDiagram(width: width, height: height, pairs: pairs, componentCount: components)
            return (diagram, recordMergeTree ? MergeTree(joined: joined, mergedInto: mergedInto) : nil)
        }
    }
}
