import PeakKit

/// Independent reference for the persistence detector, straight from the definition:
/// the prominence of a pixel p that is a maximum is v(p) minus the highest level t at which p can
/// reach a pixel that comes before it in the total order (higher value, or equal value and lower
/// raster index) along an 8-connected path of valid pixels all >= t. That level is the maximum,
/// over such target pixels q, of the widest-path (maximin) value between p and q, found by a
/// Dijkstra-like search. If no such pixel is reachable, p is the highest of its part and its
/// level is the part's minimum. O(N^2 log N): for small images only.
enum BruteForcePersistence {
    struct Entry: Equatable, CustomStringConvertible {
        var pixel: Int
        var prominence: Float
        var saddleLevel: Float
        var description: String { "(\(pixel): \(prominence) @ \(saddleLevel))" }
    }

    static func before(_ a: Int, _ b: Int, _ v: [Float]) -> Bool { v[a] > v[b] || (v[a] == v[b] && a < b) }

    static func neighbours(_ p: Int, _ w: Int, _ h: Int) -> [Int] {
        let x = p % w, y = p / w
        var out: [Int] = []
        for dy in -1...1 { for dx in -1...1 where dx != 0 || dy != 0 {
            let nx = x + dx, ny = y + dy
            if nx >= 0, ny >= 0, nx < w, ny < h { out.append(ny * w + nx) }
        } }
        return out
    }

    /// Every valid pixel with prominence > 0, by the definition above.
    static func prominences(_ image: Image, mask: Mask?) -> [Entry] {
        let w = image.width, h = image.height, v = image.pixels
        let valid = mask?.isValid ?? [Bool](repeating: true, count: v.count)
        var result: [Entry] = []
        for p in 0..<v.count where valid[p] {
            // widest[q] = best bottleneck value of a path from p to q
            var widest = [Float](repeating: -.infinity, count: v.count)
            var done = [Bool](repeating: false, count: v.count)
            widest[p] = v[p]
            var best: Float = -.infinity
            var reachedOlder = false
            var minimum = v[p]
            while true {
                var u = -1
                for q in 0..<v.count where valid[q] && !done[q] && widest[q] > -.infinity {
                    if u < 0 || widest[q] > widest[u] { u = q }
                }
                if u < 0 { break }
                done[u] = true
                minimum = min(minimum, v[u])
                if before(u, p, v) { reachedOlder = true; best = max(best, widest[u]) }
                for q in neighbours(u, w, h) where valid[q] && !done[q] {
                    widest[q] = max(widest[q], min(widest[u], v[q]))
                }
            }
            let saddle = reachedOlder ? best : minimum
            let prominence = v[p] - saddle
            if prominence > 0 || !reachedOlder {
                result.append(Entry(pixel: p, prominence: prominence, saddleLevel: saddle))
            }
        }
        return result
    }
}
