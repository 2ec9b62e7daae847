import Filters
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit

/// The `fit=gaussian` refinement of LoG blobs: position and sigma from a least-squares fit of
/// pixel-integrated Gaussians on a plane background (`GaussianSpotFit`; a quadratic one for the
/// wider refit below), when the fit is plausible.
///
/// - Window: half-width ceil(3 sigma_w) + 2 around each blob, sigma_w = sigma_i sqrt(k) being
///   the blob's grid scale stretched by half a scale step. It depends on the scale index only,
///   not on the interpolated sigma, so a change in the last digits of the response (an offset or
///   gain of the image) cannot change the window.
/// - Groups: blobs of the same polarity closer than 2.5 (sigma_a + sigma_b) + 1 px are linked,
///   and each linked group of up to `maxGroup` blobs is fitted together, one Gaussian per blob
///   on one background (DAOPHOT's NSTAR idea): the neighbour's light is modelled instead of
///   pulling the fit. Larger groups are fitted blob by blob.
/// - Other neighbours: pixels within 3 sigma_o + 1/2 of a same-polarity blob o outside the group,
///   and nearer to o than to every blob of the group, are left out. Blobs of the other polarity
///   are left alone, so asking for `polarity=both` does not move the bright blobs.
/// - Masks: invalid pixels are left out.
/// - Plausible: the fitted amplitude has the blob's polarity, sigma is within a factor 3 of the
///   scale-space estimate, and the centre moved less than max(1, either sigma) px and lies on a
///   valid pixel.
/// - Wider refit: a faint spot's scale-space sigma can be a scale step or two small. When a lone
///   blob's first fit is plausible but its fitted sigma outgrows the window, the blob is fitted
///   once more in a window made for the fitted sigma, on a quadratic background (over such a
///   window a hump or halo bends by about a faint spot's height, which a plane leaves to the
///   spot's sigma and amplitude), and that fit is judged. A first fit that is not plausible is
///   not refitted: its windows ran to 145 px and confirmed only false blobs
///   (docs/algorithms/log.md, "The wider refit on a curved background").
/// - When a group's fit is not plausible for every member, its blobs are fitted one by
///   one; a blob whose own fit is not plausible keeps its scale-space values (`fitted` false),
///   and the detector then drops it (the fit did not confirm a blob there).
///
/// Blobs with `snr` below `minimumSNR` (3; possible only with a fixed `prominence` or a
/// `noise_factor` below 3) are not fitted but still count as neighbours.
///
/// Each group's fit depends only on the image and the blob list, so groups are fitted in
/// parallel with the same result for any thread count.
enum SpotFitting {
    static let maxGroup = 6

    /// Blobs whose `snr` is below this are not fitted (they keep their scale-space values): at
    /// that level position and size are noise, and with a low fixed `prominence` (threshold
    /// sweeps) there are tens of thousands of them.
    static let minimumSNR = 3.0

    static func halfWidth(sigma: Double) -> Int { Int((3 * sigma).rounded(.up)) + 2 }

    /// `gridSigmas[i]` is scale i's sigma, `k` the ratio between scales.
    /// Returns the Levenberg-Marquardt iterations spent, summed over all fits (a diagnostic).
    @discardableResult
    static func refine(_ blobs: inout [Blob], image: Image, mask: Mask, gridSigmas: [Double], k: Double) -> Int {
        guard !blobs.isEmpty else { return 0 }
        let w = image.width, h = image.height
        let source = blobs
        let windows = source.map { halfWidth(sigma: gridSigmas[$0.scaleIndex] * k.squareRoot()) }
        let coreRadius = source.map { 3 * $0.sigma + 0.5 }

        // Neighbours (same polarity, windows or cores in reach) by grid cells.
        let reach = zip(windows, coreRadius).map { Double($0) + $1 + 1 }.max() ?? 1
        let cell = max(4.0, 2 * reach)
        struct Cell: Hashable { let x: Int, y: Int }
        var grid: [Cell: [Int]] = [:]
        func cellOf(_ b: Blob) -> Cell { Cell(x: Int((b.x / cell).rounded(.down)), y: Int((b.y / cell).rounded(.down))) }
        for (i, b) in source.enumerated() { grid[cellOf(b), default: []].append(i) }
        var neighbours = [[Int]](repeating: [], count: source.count)
        for (i, b) in source.enumerated() {
            let c = cellOf(b)
            for gy in (c.y - 1)...(c.y + 1) {
                for gx in (c.x - 1)...(c.x + 1) {
                    for j in grid[Cell(x: gx, y: gy)] ?? [] where j != i && source[j].polarity == b.polarity {
                        let o = source[j], r = Double(windows[i]) + coreRadius[j] + 1
                        if abs(o.x - b.x) <= r, abs(o.y - b.y) <= r { neighbours[i].append(j) }
                    }
                }
            }
        }

        // Groups: union-find over close pairs; members in index order, groups by first member.
        var parent = Array(source.indices)
        func root(_ i: Int) -> Int {
            var i = i
            while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }
            return i
        }
        let eligible = source.map { $0.snr >= minimumSNR }
        for i in source.indices where eligible[i] {
            for j in neighbours[i] where j > i && eligible[j] {
                let a = source[i], b = source[j]
                let d = ((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)).squareRoot()
                if d < 2.5 * (a.sigma + b.sigma) + 1 {
                    let ri = root(i), rj = root(j)
                    if ri != rj { parent[max(ri, rj)] = min(ri, rj) }
                }
            }
        }
        var groupsByRoot: [Int: [Int]] = [:]
        for i in source.indices where eligible[i] { groupsByRoot[root(i), default: []].append(i) }
        var groups: [[Int]] = []
        for (_, members) in groupsByRoot.sorted(by: { $0.key < $1.key }) {
            if members.count <= maxGroup { groups.append(members) } else { groups.append(contentsOf: members.map { [$0] }) }
        }

        /// Whether pixel (x, y) takes part in the fit of `members`.
        func includes(_ members: [Int]) -> (Int, Int) -> Bool {
            var outside: [Int] = []
            for m in members { for j in neighbours[m] where !members.contains(j) && !outside.contains(j) { outside.append(j) } }
            return { px, py in
                guard mask.isValid[py &* w &+ px] else { return false }
                guard !outside.isEmpty else { return true }
                let x = Double(px), y = Double(py)
                var own = Double.infinity
                for m in members { own = min(own, (x - source[m].x) * (x - source[m].x) + (y - source[m].y) * (y - source[m].y)) }
                for j in outside {
                    let o = source[j]
                    let d = (x - o.x) * (x - o.x) + (y - o.y) * (y - o.y)
                    if d < coreRadius[j] * coreRadius[j] && d < own { return false }
                }
                return true
            }
        }
        func accept(_ f: GaussianSpotFit.Result, for b: Blob) -> Blob? {
            guard f.amplitude * b.polarity > 0, f.sigma >= b.sigma / 3, f.sigma <= 3 * b.sigma,
                  ((f.x - b.x) * (f.x - b.x) + (f.y - b.y) * (f.y - b.y)).squareRoot() < max(1, b.sigma, f.sigma)
            else { return nil }
            let px = Int(f.x.rounded()), py = Int(f.y.rounded())
            guard px >= 0, py >= 0, px < w, py < h, mask.isValid[py * w + px] else { return nil }
            var refined = b
            refined.x = f.x
            refined.y = f.y
            refined.sigma = f.sigma
            refined.amplitude = f.amplitude
            refined.fitted = true
            return refined
        }
        func guess(_ i: Int) -> GaussianSpotFit.Guess {
            GaussianSpotFit.Guess(x: source[i].x, y: source[i].y, sigma: source[i].sigma, halfWidth: windows[i])
        }

        var results = [Blob?](repeating: nil, count: source.count)
        var spent = [Int](repeating: 0, count: groups.count)
        results.withUnsafeMutableBufferPointer { out in
          spent.withUnsafeMutableBufferPointer { spentBuffer in
            let shared = SharedPointer(out.baseAddress!)
            let iterations = SharedPointer(spentBuffer.baseAddress!)
            Parallel.forEach(groups.count) { g in
                let members = groups[g]
                if members.count > 1,
                   let fits = GaussianSpotFit.fit(image, spots: members.map(guess), include: includes(members)) {
                    iterations[g] += fits[0].iterations
                    let accepted = zip(members, fits).map { accept($1, for: source[$0]) }
                    if accepted.allSatisfy({ $0 != nil }) {
                        for (m, b) in zip(members, accepted) { shared[m] = b }
                        return
                    }
                }
                for m in members {
                    // Fitted alone, the other members count as outside neighbours.
                    let include = includes([m])
                    guard var f = GaussianSpotFit.fit(image, spots: [guess(m)], include: include)?.first else { continue }
                    iterations[g] += f.iterations
                    // A faint spot's scale-space sigma can be off by a scale step or two; when a
                    // plausible fit's sigma needs a wider window, fit once more in that window,
                    // where the background's curvature shows: on a quadratic surface.
                    let wider = halfWidth(sigma: f.sigma)
                    if wider > windows[m], accept(f, for: source[m]) != nil {
                        var wide = guess(m)
                        wide.halfWidth = wider
                        if let again = GaussianSpotFit.fit(image, spots: [wide], background: .quadratic, include: include)?.first {
                            f = again
                            iterations[g] += again.iterations
                        }
                    }
                    shared[m] = accept(f, for: source[m])
                }
            }
          }
        }
        for i in blobs.indices { if let r = results[i] { blobs[i] = r } }
        return spent.reduce(0, +)
    }
}
