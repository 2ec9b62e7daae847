/// The post-processing every detector's raw output goes through, in this order:
///
/// 1. drop peaks whose nearest pixel is outside the image or invalid in the mask;
/// 2. drop peaks closer than `excludeBorder` pixels to the edge (x < b or x > width - 1 - b, same for y);
/// 3. sort by strength (descending), ties by row then column (ascending): the output order;
/// 4. minimum-distance suppression, greedy by strength: walking that order, a peak is kept unless a
///    peak already kept lies closer than `minDistance` (Euclidean). So if A-B and B-C are close
///    pairs, A is strongest and B is dropped because of A, C is still kept unless A is close to C.
///    Kept peaks are therefore pairwise at least `minDistance` apart.
/// 5. blob labels are renumbered to the new order; blobs of dropped peaks become background; a
///    detector whose blobs depend on which peaks survive (`Detection.labelling`) draws them now.
///
/// Cost: O(n log n) for n peaks (a grid of cells of side `minDistance` makes step 4 linear).
public enum PostProcessing {
    /// Applies the steps above once.
    ///
    /// - Parameters:
    ///   - detection: A detector core's candidates.
    ///   - mask: Valid pixels (the image's shape).
    ///   - settings: Minimum distance and border.
    /// - Returns: The reported peaks, in output order.
    public static func apply(
        to detection: Detection, mask: Mask, width: Int, height: Int, settings: PostProcessingSettings
    ) -> Detection {
        let minDistance = settings.minDistance, excludeBorder = settings.excludeBorder
        let peaks = detection.peaks
        var candidates: [Int] = []
        candidates.reserveCapacity(peaks.count)
        let b = Double(excludeBorder)
        for (i, p) in peaks.enumerated() {
            guard p.x.isFinite, p.y.isFinite else { continue }
            let px = Int(p.x.rounded()), py = Int(p.y.rounded())
            guard px >= 0, py >= 0, px < width, py < height, mask[px, py] else { continue }
            if excludeBorder > 0 {
                if p.x < b || p.y < b || p.x > Double(width - 1) - b || p.y > Double(height - 1) - b { continue }
            }
            candidates.append(i)
        }
        candidates.sort { i, j in
            let a = peaks[i], c = peaks[j]
            if a.strength != c.strength { return a.strength > c.strength }
            if a.y != c.y { return a.y < c.y }
            if a.x != c.x { return a.x < c.x }
            return i < j
        }
        let kept = minDistance > 0 ? suppressClosePeaks(candidates, peaks: peaks, minDistance: minDistance) : candidates

        var out = detection
        out.peaks = kept.map { peaks[$0] }
        if let labelling = detection.labelling {
            out.labels = labelling(out.peaks)
            out.labelling = nil
            return out
        }
        if let labels = detection.labels {
            // old label (1-based raw index) -> new label (1-based output index) or 0
            var remap = [Int32](repeating: 0, count: peaks.count + 1)
            for (newIndex, oldIndex) in kept.enumerated() { remap[oldIndex + 1] = Int32(newIndex + 1) }
            var relabelled = labels
            relabelled.labels.withUnsafeMutableBufferPointer { l in
                for i in 0..<l.count {
                    let old = Int(l[i])
                    l[i] = (old > 0 && old <= peaks.count) ? remap[old] : 0
                }
            }
            out.labels = relabelled
        }
        return out
    }

    /// Greedy suppression over `order` (strongest first): indices of the peaks kept.
    static func suppressClosePeaks(_ order: [Int], peaks: [Peak], minDistance d: Double) -> [Int] {
        // Cells of side c >= d: any kept peak closer than d to a candidate sits in the 3x3 cells
        // around it. c is at least 1 px so that a tiny d (1e-20) cannot overflow the cell index.
        struct Cell: Hashable { let cx: Int, cy: Int }
        var grid: [Cell: [Int]] = [:]
        var kept: [Int] = []
        let d2 = d * d
        let c = max(d, 1)
        for i in order {
            let p = peaks[i]
            let cx = Int((p.x / c).rounded(.down)), cy = Int((p.y / c).rounded(.down))
            var tooClose = false
            search: for dy in -1...1 {
                for dx in -1...1 {
                    guard let members = grid[Cell(cx: cx + dx, cy: cy + dy)] else { continue }
                    for j in members {
                        let q = peaks[j]
                        let ex = p.x - q.x, ey = p.y - q.y
                        if ex * ex + ey * ey < d2 { tooClose = true; break search }
                    }
                }
            }
            if !tooClose {
                kept.append(i)
                grid[Cell(cx: cx, cy: cy), default: []].append(i)
            }
        }
        return kept
    }
}
