import PeakKit

/// An axis-aligned box of pixels, bounds inclusive: columns minX...maxX, rows minY...maxY.
public struct BoundingBox: Sendable, Equatable {
    public var minX: Int, minY: Int, maxX: Int, maxY: Int
    public init(minX: Int, minY: Int, maxX: Int, maxY: Int) {
        self.minX = minX; self.minY = minY; self.maxX = maxX; self.maxY = maxY
    }
    public var width: Int { maxX - minX + 1 }
    public var height: Int { maxY - minY + 1 }
}

/// Measurements of one labelled region. Positions are (x = column, y = row) with pixel centres
/// at integers.
public struct Region: Sendable, Equatable {
    /// The region's label (>= 1).
    public var label: Int
    /// Number of pixels.
    public var area: Int
    /// The smallest box holding every pixel (all zeros for a label with no pixels).
    public var boundingBox: BoundingBox
    /// Mean pixel position `(sum x / area, sum y / area)`; NaN for a label with no pixels.
    public var centroid: SIMD2<Double>
    /// `(sum I x / sum I, sum I y / sum I)` over the region's pixels, I the intensity image's
    /// values as given (subtract any background first). Equals `centroid` when no intensity image
    /// was given or when the sum of I is 0 or not finite. Non-finite pixels are skipped.
    public var weightedCentroid: SIMD2<Double>
    /// The largest intensity in the region and its first pixel in raster order (row, then column);
    /// nil without an intensity image or when the region has no finite intensity.
    public var maxIntensity: Float?
    public var maxPosition: SIMD2<Int>?
    /// Area of the convex hull of the region's pixel squares, i.e. of the corners
    /// (x +- 0.5, y +- 0.5) of its pixels, in square pixels (shoelace formula). A filled rectangle
    /// of w x h pixels gives exactly w h; always >= `area`. (skimage's `area_convex` instead counts
    /// the pixels whose centres fall inside the hull of pixel centres, an integer.)
    public var convexArea: Double

    /// `area / convexArea` in (0, 1]; 1 for convex shapes, NaN for an empty label.
    public var solidity: Double { convexArea > 0 ? Double(area) / convexArea : .nan }
}

/// Per-label measurements of a label image (e.g. from `ConnectedComponents.label`).
///
/// One raster pass accumulates, per label k >= 1: the pixel count, the bounding box, the sums of
/// x and y (centroid), the intensity-weighted sums (if an image is given), the maximum intensity
/// with its position, and for every row the region occupies, its leftmost and rightmost pixel.
/// The convex hull of the pixel squares is the hull of the outer corners of those row extremes
/// (at most 4 points per row); it is built by Andrew's monotone chain (Andrew 1979) in
/// half-pixel integer units, so hull and shoelace area are exact. Cost O(N + P log P), P the
/// number of hull candidate points (at most 4 per region row).
///
/// Labels <= 0 are background. The result has one entry per label 1...maxLabel, in label order
/// (`result[k - 1]` is label k); labels without pixels have area 0 and NaN centroids.
/// Labels need not be connected.
public enum RegionProperties {
    /// - Throws: `PeaksError.shapeMismatch` if `intensity` does not have the label image's shape.
    public static func measure(_ labels: LabelImage, intensity: Image? = nil) throws -> [Region] {
        let w = labels.width, h = labels.height
        if let intensity, intensity.width != w || intensity.height != h {
            throw PeaksError.shapeMismatch(what: "label image", expected: (intensity.width, intensity.height), actual: (w, h))
        }
        let n = max(0, Int(labels.maxLabel))
        if n == 0 { return [] }
        var area = [Int](repeating: 0, count: n + 1)
        var minX = [Int](repeating: .max, count: n + 1), maxX = [Int](repeating: .min, count: n + 1)
        var minY = [Int](repeating: .max, count: n + 1), maxY = [Int](repeating: .min, count: n + 1)
        var sx = [Double](repeating: 0, count: n + 1), sy = [Double](repeating: 0, count: n + 1)
        var si = [Double](repeating: 0, count: n + 1)
        var six = [Double](repeating: 0, count: n + 1), siy = [Double](repeating: 0, count: n + 1)
        var maxI = [Float](repeating: -.infinity, count: n + 1)
        var maxAt = [Int](repeating: -1, count: n + 1)
        // Row runs: the extremes of label k in its current row, flushed when the row changes.
        var runRow = [Int](repeating: -1, count: n + 1)
        var runMin = [Int](repeating: 0, count: n + 1), runMax = [Int](repeating: 0, count: n + 1)
        var runs: [(label: Int32, y: Int32, minX: Int32, maxX: Int32)] = []

        let pixels = intensity?.pixels ?? []
        labels.labels.withUnsafeBufferPointer { l in
            pixels.withUnsafeBufferPointer { img in
                let hasImage = !img.isEmpty
                for y in 0..<h {
                    let row = y &* w
                    for x in 0..<w {
                        let k = Int(l[row &+ x])
                        if k <= 0 { continue }
                        area[k] &+= 1
                        if x < minX[k] { minX[k] = x }
                        if x > maxX[k] { maxX[k] = x }
                        if y < minY[k] { minY[k] = y }
                        if y > maxY[k] { maxY[k] = y }
                        sx[k] += Double(x)
                        sy[k] += Double(y)
                        if hasImage {
                            let v = img[row &+ x]
                            if v.isFinite {
                                let d = Double(v)
                                si[k] += d
                                six[k] += d * Double(x)
                                siy[k] += d * Double(y)
                                if v > maxI[k] || maxAt[k] < 0 { maxI[k] = v; maxAt[k] = row &+ x }
                            }
                        }
                        if runRow[k] != y {
                            if runRow[k] >= 0 { runs.append((Int32(k), Int32(runRow[k]), Int32(runMin[k]), Int32(runMax[k]))) }
                            runRow[k] = y; runMin[k] = x; runMax[k] = x
                        } else {
                            runMax[k] = x  // raster order: x only grows within a row
                        }
                    }
                }
            }
        }
        for k in 1...n where runRow[k] >= 0 {
            runs.append((Int32(k), Int32(runRow[k]), Int32(runMin[k]), Int32(runMax[k])))
        }
        // Group runs by label (stable counting sort).
        var start = [Int](repeating: 0, count: n + 2)
        for r in runs { start[Int(r.label) + 1] += 1 }
        for k in 0...n { start[k + 1] += start[k] }
        var order = [Int](repeating: 0, count: runs.count)
        var fill = start
        for (i, r) in runs.enumerated() { order[fill[Int(r.label)]] = i; fill[Int(r.label)] += 1 }

        var out: [Region] = []
        out.reserveCapacity(n)
        var points: [SIMD2<Int>] = []
        for k in 1...n {
            let a = area[k]
            if a == 0 {
                out.append(Region(
                    label: k, area: 0, boundingBox: BoundingBox(minX: 0, minY: 0, maxX: 0, maxY: 0),
                    centroid: SIMD2(.nan, .nan), weightedCentroid: SIMD2(.nan, .nan),
                    maxIntensity: nil, maxPosition: nil, convexArea: 0))
                continue
            }
            let c = SIMD2(sx[k] / Double(a), sy[k] / Double(a))
            let wc = (si[k] != 0 && si[k].isFinite) ? SIMD2(six[k] / si[k], siy[k] / si[k]) : c
            // Hull candidates in half-pixel units: corner (x +- 0.5, y +- 0.5) -> (2x +- 1, 2y +- 1).
            points.removeAll(keepingCapacity: true)
            for j in start[k]..<start[k + 1] {
                let r = runs[order[j]]
                let y2 = 2 * Int(r.y), x0 = 2 * Int(r.minX) - 1, x1 = 2 * Int(r.maxX) + 1
                points.append(SIMD2(x0, y2 - 1)); points.append(SIMD2(x0, y2 + 1))
                points.append(SIMD2(x1, y2 - 1)); points.append(SIMD2(x1, y2 + 1))
            }
            let doubled = ConvexHull.doubledArea(ConvexHull.hull(points))  // 2 * (area in half-pixel units) = 8 * area
            out.append(Region(
                label: k, area: a,
                boundingBox: BoundingBox(minX: minX[k], minY: minY[k], maxX: maxX[k], maxY: maxY[k]),
                centroid: c, weightedCentroid: wc,
                maxIntensity: maxAt[k] >= 0 ? maxI[k] : nil,
                maxPosition: maxAt[k] >= 0 ? SIMD2(maxAt[k] % w, maxAt[k] / w) : nil,
                convexArea: Double(doubled) / 8))
        }
        return out
    }
}

/// Planar convex hulls of integer points.
public enum ConvexHull {
    /// Andrew's monotone chain: the hull's vertices counter-clockwise (in a y-up frame; clockwise
    /// as drawn with y down), starting at the smallest (x, y), without collinear points.
    /// Fewer than 3 distinct points are returned sorted and deduplicated.
    public static func hull(_ input: [SIMD2<Int>]) -> [SIMD2<Int>] {
        var p = input.sorted { $0.x != $1.x ? $0.x < $1.x : $0.y < $1.y }
        var unique: [SIMD2<Int>] = []
        unique.reserveCapacity(p.count)
        for q in p where unique.last != q { unique.append(q) }
        p = unique
        if p.count < 3 { return p }
        @inline(__always) func cross(_ o: SIMD2<Int>, _ a: SIMD2<Int>, _ b: SIMD2<Int>) -> Int {
            (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
        }
        var h = [SIMD2<Int>](repeating: .zero, count: 2 * p.count)
        var m = 0
        for q in p {
            while m >= 2 && cross(h[m - 2], h[m - 1], q) <= 0 { m -= 1 }
            h[m] = q; m += 1
        }
        let lower = m + 1
        for q in p.reversed().dropFirst() {
            while m >= lower && cross(h[m - 2], h[m - 1], q) <= 0 { m -= 1 }
            h[m] = q; m += 1
        }
        return Array(h[0..<(m - 1)])
    }

    /// Twice the polygon's area by the shoelace formula, `|sum (x_i y_{i+1} - x_{i+1} y_i)|`, exact.
    public static func doubledArea(_ polygon: [SIMD2<Int>]) -> Int {
        guard polygon.count >= 3 else { return 0 }
        var s = 0
        for i in 0..<polygon.count {
            let a = polygon[i], b = polygon[(i + 1) % polygon.count]
            s += a.x * b.y - b.x * a.y
        }
        return abs(s)
    }
}
