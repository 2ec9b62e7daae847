import PeakKit
import _PeaksIntrinsics

/// A birth-death pair of the 0-dimensional persistent homology of the superlevel-set filtration.
///
/// `birth` is the raster index (y * width + x) of the pixel where a connected component of
/// {pixel value >= t} appears as t decreases (a local maximum; for a plateau, its first pixel in
/// raster order). `death` is the pixel where that component merges into an older one (the saddle).
/// For an *essential* class, which never merges (the highest peak of each connected part of the
/// valid domain), `death` is the lowest pixel of that part, so its persistence is max - min.
public struct PersistencePair: Sendable, Equatable {
    // Stored as 32-bit indices (20 bytes a pair): on noise there is a pair every ~9 pixels.
    private var birthIndex: Int32
    private var deathIndex: Int32
    public var birthLevel: Float
    public var deathLevel: Float
    public var isEssential: Bool

    public var birth: Int {
        get { Int(birthIndex) }
        set { birthIndex = Int32(truncatingIfNeeded: newValue) }
    }
    public var death: Int {
        get { Int(deathIndex) }
        set { deathIndex = Int32(truncatingIfNeeded: newValue) }
    }

    public init(birth: Int, death: Int, birthLevel: Float, deathLevel: Float, isEssential: Bool) {
        birthIndex = Int32(truncatingIfNeeded: birth)
        deathIndex = Int32(truncatingIfNeeded: death)
        self.birthLevel = birthLevel
        self.deathLevel = deathLevel
        self.isEssential = isEssential
    }

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
    /// Per birth pixel: the level at which it merged (its death level; -infinity if never).
    var mergeLevel: [Float]
    /// The filtration values.
    var values: [Float]

    /// Labels per pixel: pixel p gets label L of the youngest listed peak whose basin contains
    /// p, where the basin of a peak is the connected component of {value > its saddle level}
    /// that holds it (for the highest peak of a part, the whole part).
    ///
    /// Walk up the merge tree from the component J0 that p joined: J0 merged into J1 at level
    /// L1, J1 into J2 at L2, ... with L0 = value(p) >= L1 >= L2 ... Pixel p lies in the basin of
    /// J_k exactly when L_k > L_{k+1} (strictly: two components meeting at the very level where
    /// one of them dies are not in each other's basin). The answer for "enter J_{k+1} from J_k"
    /// depends on J_k only, so it is memoised per node: O(N) overall.
    /// `labelOfBirth` maps birth pixels of listed peaks to labels >= 1.
    public consuming func labels(labelOfBirth: [Int: Int32]) -> [Int32] {
        let n = joined.count
        var label = [Int32](repeating: 0, count: n)
        for (b, l) in labelOfBirth { label[b] = l }
        // memo[c]: the label for pixels that reach c's parent through c; -1 = not known yet.
        var memo = [Int32](repeating: -1, count: n)
        var out = joined
        var path: [Int] = []
        out.withUnsafeMutableBufferPointer { out in
        label.withUnsafeBufferPointer { label in
        memo.withUnsafeMutableBufferPointer { memo in
        mergedInto.withUnsafeBufferPointer { up in
        mergeLevel.withUnsafeBufferPointer { level in
        values.withUnsafeBufferPointer { values in
            for p in 0..<n {
                let j = Int(out[p])
                if j < 0 { out[p] = 0; continue }
                if label[j] > 0 && values[p] > level[j] { out[p] = label[j]; continue }
                // Continue above j: memoised walk.
                var c = j
                var result: Int32 = 0
                while true {
                    if memo[c] >= 0 { result = memo[c]; break }
                    let u = Int(up[c])
                    if u < 0 { result = 0; path.append(c); break }
                    path.append(c)
                    if label[u] > 0 && level[c] > level[u] { result = label[u]; break }
                    c = u
                }
                for node in path { memo[node] = result }
                path.removeAll(keepingCapacity: true)
                out[p] = result
            }
        }
        }
        }
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
/// 8-neighbours (one lookup per group of mutually adjacent visited neighbours, `NeighbourGroups`).
/// When two components meet, the one whose birth comes later in the order (the
/// lower peak) dies at the current pixel: the elder rule. Union by rank with path halving makes
/// the whole pass O(N alpha(N)) after the O(N) radix sort.
///
/// Memory: 16 bytes per valid pixel while sorting; then 4 (order) + 4 (parent or rank) + 4 (birth
/// position) = 12 bytes per pixel, plus 8 bytes per death (about one per five pixels on white
/// noise). Recording the merge tree for basins takes 12 bytes per pixel more, and drawing the
/// labels 8 more (temporarily).
/// Cost on this project's machine: docs/performance.md.
public enum SuperlevelPersistence {
    public static func diagram(of image: Image, mask: Mask? = nil) -> PersistenceDiagram {
        compute(image, mask: mask, recordMergeTree: false).diagram
    }

    /// The valid pixels' raster indices in the filtration's order: value descending, then raster
    /// index ascending (a radix sort spread over the cores).
    public static func order(of image: Image, mask: Mask?) -> [UInt32] {
        image.pixels.withUnsafeBufferPointer { values in
            if let mask {
                return mask.isValid.withUnsafeBufferPointer { PixelOrder.sortedDescending(values, valid: $0) }
            }
            return PixelOrder.sortedDescending(values, valid: nil)
        }
    }

    /// The diagram, and the merge tree if asked for. `order`, when given, must be
    /// `order(of: image, mask: mask)` (sorted beforehand, where the sort gets the cores).
    public static func compute(_ image: Image, mask: Mask?, recordMergeTree: Bool, order given: [UInt32]? = nil) -> (diagram: PersistenceDiagram, tree: MergeTree?) {
        let width = image.width, height = image.height, n = image.count
        let order = given ?? Self.order(of: image, mask: mask)
        return image.pixels.withUnsafeBufferPointer { values in
            // Union-find records, interleaved so one cache line serves a root lookup:
            // uf[2p] = parent of p; uf[2p + 1] = (at roots) the position in `order` of the
            // component's birth pixel, so "born earlier" is a plain integer comparison.
            // The union-find forest, 4 bytes per pixel so its random accesses mostly hit the cache:
            //   parent[p] >= 0: the parent of p;  -1: p not yet visited (or invalid);
            //             <= -2: p is a root, whose union-by-rank rank is -parent[p] - 2.
            // birth[root]: the position in `order` of the component's birth pixel, so "born
            // earlier" is an integer comparison; read only where components meet.
            let parent = LargeBuffer.allocate(Int32.self, count: n)
            parent.initialize(repeating: -1, count: n)
            let birth = LargeBuffer.allocate(Int32.self, count: n)
            // The loop is bound by cache misses at random pixels; prefetching the neighbourhood
            // of the pixel `lookahead` steps ahead in the order overlaps many of them.
            let lookahead = 12
            var joined = recordMergeTree ? [Int32](repeating: -1, count: n) : []
            var mergedInto = recordMergeTree ? [Int32](repeating: -1, count: n) : []
            var mergeLevel = recordMergeTree ? [Float](repeating: -.infinity, count: n) : []
            let neighbourOffsets = NeighbourGroups.offsets.map { $0.dy * width + $0.dx }
            let neighbourOffset = UnsafeMutablePointer<Int>.allocate(capacity: 8)
            neighbourOffset.initialize(from: neighbourOffsets, count: 8)
            let groupTable = UnsafeMutablePointer<UInt16>.allocate(capacity: 256)
            groupTable.initialize(from: NeighbourGroups.representatives, count: 256)
            defer { neighbourOffset.deallocate(); groupTable.deallocate() }
            // Row of pixel p without an integer division (slow, and done once per pixel):
            // a multiply by the reciprocal, then an exact correction.
            let inverseWidth = 1.0 / Double(width)

            /// The root of x's tree, halving the path on the way.
            @inline(__always) func find(_ start: Int) -> Int {
                var x = start
                while true {
                    let px = Int(parent[x])
                    if px < 0 { return x }
                    let gp = Int(parent[px])
                    if gp < 0 { return px }
                    parent[x] = Int32(truncatingIfNeeded: gp)
                    x = gp
                }
            }

            // Deaths as (position of the dying component's birth in `order`, saddle pixel);
            // levels are looked up afterwards, off the loop's critical path.
            var deaths: [(birthPosition: Int32, saddle: Int32)] = []
            var components = 0
            order.withUnsafeBufferPointer { order in
            joined.withUnsafeMutableBufferPointer { joined in
            mergeLevel.withUnsafeMutableBufferPointer { mergeLevel in
                mergedInto.withUnsafeMutableBufferPointer { mergedInto in
                    let count = order.count
                    for r in 0..<count {
                        if r &+ lookahead < count {
                            let f = Int(order[r &+ lookahead])
                            peaks_prefetch(parent + (f &- width &- 1)); peaks_prefetch(parent + (f &- width &+ 1))
                            peaks_prefetch(parent + (f &- 1)); peaks_prefetch(parent + (f &+ 1))
                            peaks_prefetch(parent + (f &+ width &- 1)); peaks_prefetch(parent + (f &+ width &+ 1))
                        }
                        let p = Int(order[r])
                        var y = Int(Double(p) * inverseWidth)
                        if y &* width > p { y &-= 1 } else if (y &+ 1) &* width <= p { y &+= 1 }
                        let x = p &- y &* width

                        // Which neighbours are visited (inside the image, parent slot != -1).
                        var visited = 0
                        if x > 0 && y > 0 && x < width - 1 && y < height - 1 {
                            for k in 0..<8 where parent[p &+ neighbourOffset[k]] != -1 { visited |= 1 &<< k }
                        } else {
                            for k in 0..<8 {
                                let nx = x &+ NeighbourGroups.offsets[k].dx, ny = y &+ NeighbourGroups.offsets[k].dy
                                if nx >= 0 && ny >= 0 && nx < width && ny < height && parent[p &+ neighbourOffset[k]] != -1 {
                                    visited |= 1 &<< k
                                }
                            }
                        }
                        let groups = Int(groupTable[visited])
                        let groupCount = groups & 15
                        if groupCount == 0 {
                            // A local maximum: a new component is born.
                            parent[p] = -2
                            birth[p] = Int32(truncatingIfNeeded: r)
                            components &+= 1
                            if recordMergeTree { joined[p] = Int32(truncatingIfNeeded: p) }
                            continue
                        }
                        let firstNeighbour = p &+ neighbourOffset[(groups &>> 4) & 7]
                        if groupCount == 1 && !recordMergeTree {
                            // No merge at p: link p next to its neighbour q, under q's parent (a
                            // value already in cache), or under q itself if q is a root. p then
                            // has q's depth, so no tree grows taller and union by rank's bound
                            // (height <= rank) still holds; and no root lookup, the loop's
                            // costliest step, is needed.
                            let pq = parent[firstNeighbour]
                            if pq >= 0 {
                                parent[p] = pq
                            } else {
                                parent[p] = Int32(truncatingIfNeeded: firstNeighbour)
                                if pq == -2 { parent[firstNeighbour] = -3 }  // a rank-0 root gains a child
                            }
                            continue
                        }
                        // p joins the component of its first group: p is the younger, so no birth
                        // comparison is needed, and union by rank puts the singleton p below.
                        var root = find(firstNeighbour)
                        if parent[root] == -2 { parent[root] = -3 }  // equal ranks 0: the root's rank grows
                        parent[p] = Int32(truncatingIfNeeded: root)
                        var g = 1
                        while g < groupCount {
                            let k = (groups &>> (4 &+ 3 &* g)) & 7
                            g &+= 1
                            let rq = find(p &+ neighbourOffset[k])
                            if rq == root { continue }
                            // Two components meet at p. The elder rule: the one born earlier survives.
                            let bq = Int(birth[rq]), bRoot = Int(birth[root])
                            let older = min(bq, bRoot), younger = max(bq, bRoot)
                            deaths.append((Int32(truncatingIfNeeded: younger), Int32(truncatingIfNeeded: p)))
                            if recordMergeTree {
                                let dying = Int(order[younger])
                                mergedInto[dying] = Int32(bitPattern: order[older])
                                mergeLevel[dying] = values[p]
                            }
                            // Union by rank (ranks are stored negated in the roots' parent slots).
                            let rankQ = parent[rq], rankRoot = parent[root]  // -(rank + 2)
                            if rankQ > rankRoot {  // rq has the lower rank
                                parent[rq] = Int32(truncatingIfNeeded: root)
                            } else if rankQ < rankRoot {
                                parent[root] = Int32(truncatingIfNeeded: rq); root = rq
                            } else {
                                parent[rq] = Int32(truncatingIfNeeded: root); parent[root] = rankRoot &- 1
                            }
                            birth[root] = Int32(truncatingIfNeeded: older)
                            components &-= 1
                        }
                        if recordMergeTree { joined[p] = Int32(bitPattern: order[Int(birth[root])]) }
                    }
                }
            }
            }
            }

            // Essential classes: one per connected part; its death is the part's lowest pixel,
            // the first pixel of the part met when walking the order backwards.
            var essential: [PersistencePair] = []
            var found: Set<Int> = []
            var r = order.count - 1
            while found.count < components && r >= 0 {
                let p = Int(order[r])
                let b = Int(order[Int(birth[find(p)])])
                if !found.contains(b) {
                    found.insert(b)
                    essential.append(PersistencePair(
                        birth: b, death: p, birthLevel: values[b], deathLevel: values[p], isEssential: true))
                }
                r -= 1
            }
            // The union-find is no longer needed: free it before the pairs are built, so the
            // peak memory stays at the loop's (12 bytes per pixel plus the deaths).
            LargeBuffer.free(parent)
            LargeBuffer.free(birth)

            var pairs: [PersistencePair] = []
            pairs.reserveCapacity(deaths.count + essential.count)
            for (birthPosition, saddle) in deaths {
                let b = Int(order[Int(birthPosition)]), d = Int(saddle)
                let birthLevel = values[b], deathLevel = values[d]
                if birthLevel > deathLevel {
                    pairs.append(PersistencePair(birth: b, death: d, birthLevel: birthLevel, deathLevel: deathLevel, isEssential: false))
                }
            }
            deaths = []
            pairs.append(contentsOf: essential)

            let diagram = PersistenceDiagram(width: width, height: height, pairs: pairs, componentCount: components)
            return (diagram, recordMergeTree
                ? MergeTree(joined: joined, mergedInto: mergedInto, mergeLevel: mergeLevel, values: image.pixels) : nil)
        }
    }
}
