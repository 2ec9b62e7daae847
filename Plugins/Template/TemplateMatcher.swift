#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit
import Spectral

/// One matched position.
struct TemplateMatch: Sendable, Equatable {
    var x: Double
    var y: Double
    var pixelX: Int
    var pixelY: Int
    /// c at the whole pixel.
    var correlation: Double
    /// Pearson correlation of template and frame at the whole pixel (Lewis 1995), in [-1, 1].
    var ncc: Double
    /// Slope of the tightest cone from the peak touching c at distances 1.5 ..< search.
    var elevation: Double
    /// False when the refinement kept the whole pixel (border, flat, not a maximum).
    var refined: Bool
}

/// Buffers for one frame (or crop) shape, reused frame after frame by one thread at a time (taken
/// from and given back to `PreparedTemplate`'s pool): the zero-mean frame, its spectrum, a copy of
/// the correlation spectrum (for upsampling) and the correlation. Nothing image-sized is allocated
/// per frame.
final class TemplateWorkspace: @unchecked Sendable {
    // Safe: a workspace is used by one thread at a time (taken from the pool under its lock).
    let real: FFTRealArray<Double>
    let spectrum: FFTHalfSpectrum<Double>
    let copy: FFTHalfSpectrum<Double>
    let corr: FFTRealArray<Double>

    init(width: Int, height: Int) {
        real = FFTRealArray<Double>(uninitializedWidth: width, height: height)
        spectrum = FFTHalfSpectrum<Double>(uninitializedWidth: width, height: height)
        copy = FFTHalfSpectrum<Double>(uninitializedWidth: width, height: height)
        corr = FFTRealArray<Double>(uninitializedWidth: width, height: height)
    }
}

/// The template detector's core, on one frame (single-threaded: frames of a stack run on all
/// cores, each transform on one; results do not depend on the thread count).
enum TemplateMatcher {
    /// Full-frame search: the `numPeaks` strongest maxima of the correlation over the whole frame.
    static func match(
        _ image: Image, mask: Mask, prepared p: PreparedTemplate, numPeaks: Int, separation: Double,
        search: Int, refine: TemplateDetector.Refine, upsample: Int
    ) -> [TemplateMatch] {
        let w = image.width, h = image.height, n = w * h
        let allValid = mask.isEverywhereValid
        return p.withWorkspace { ws in
            let f = ws.real.withUnsafeMutableBufferPointer { $0.baseAddress! }
            let c = UnsafePointer(ws.corr.withUnsafeMutableBufferPointer { $0.baseAddress! })
            let energy = image.pixels.withUnsafeBufferPointer { px in
                mask.isValid.withUnsafeBufferPointer { vp in
                    zeroMean(px.baseAddress!, valid: allValid ? nil : vp.baseAddress!, count: n, into: f)
                }
            }
            // No valid pixel, or a flat frame: nothing matches (its correlation is rounding noise).
            guard let energy, energy > 0 else { return [] }
            correlate(p, ws, keepSpectrum: refine == .upsample || refine == .upsampleFit)
            // Rounding level of c: |c| <= sqrt(sum f^2 sum t^2) (Cauchy-Schwarz).
            let floor = 1e-9 * (energy.squareRoot() * p.box.norm)
            let chosen = mask.isValid.withUnsafeBufferPointer { vp in
                strongestMaxima(c, valid: vp.baseAddress!, allValid: allValid, width: w, height: h, floor: floor,
                                numPeaks: numPeaks, separation: separation)
            }
            return chosen.map { i in
                let x = i % w, y = i / w
                return refined(c, ws, width: w, height: h, x: x, y: y, offsetX: 0, offsetY: 0, search: search,
                               refine: refine, upsample: upsample, image: image, mask: mask, box: p.box)
            }
        }
    }

    /// Search near given positions (blobfinder's `process_frames_fast`): for each (x, y), the
    /// correlation of the 2 search x 2 search crop whose pixel (search, search) is (x, y)
    /// (periodic within the crop; pixels outside the frame or invalid count as the crop's mean)
    /// and its maximum over the crop's valid pixels inside the frame, refined; one match per
    /// position, in the given order (none for a crop with no valid pixel or a flat one).
    static func matchNear(
        _ positions: [(x: Int, y: Int)], image: Image, mask: Mask, prepared p: PreparedTemplate,
        search s: Int, refine: TemplateDetector.Refine, upsample: Int
    ) -> [TemplateMatch] {
        let w = image.width, h = image.height, side = 2 * s
        precondition(p.width == side && p.height == side, "TemplateMatcher.matchNear: prepared for \(p.width)x\(p.height), crop is \(side)")
        return p.withWorkspace { ws in
            let f = ws.real.withUnsafeMutableBufferPointer { $0.baseAddress! }
            let c = UnsafePointer(ws.corr.withUnsafeMutableBufferPointer { $0.baseAddress! })
            var out: [TemplateMatch] = []
            out.reserveCapacity(positions.count)
            for (px, py) in positions {
                let ox = px - s, oy = py - s
                // Crop mean over its valid pixels inside the frame.
                var sum = 0.0, count = 0
                image.pixels.withUnsafeBufferPointer { pix in
                    mask.isValid.withUnsafeBufferPointer { vp in
                        for cy in 0..<side {
                            let fy = oy + cy
                            if fy < 0 || fy >= h { continue }
                            for cx in max(0, -ox)..<min(side, w - ox) {
                                let i = fy &* w &+ ox &+ cx
                                if vp[i] { sum += Double(pix[i]); count += 1 }
                            }
                        }
                    }
                }
                guard count > 0 else { continue }
                let mean = sum / Double(count)
                var energy = 0.0
                image.pixels.withUnsafeBufferPointer { pix in
                    mask.isValid.withUnsafeBufferPointer { vp in
                        for cy in 0..<side {
                            let fy = oy + cy, row = f + cy &* side
                            for cx in 0..<side {
                                let fx = ox + cx
                                var v = 0.0
                                if fy >= 0 && fy < h && fx >= 0 && fx < w {
                                    let i = fy &* w &+ fx
                                    if vp[i] { v = Double(pix[i]) - mean }
                                }
                                row[cx] = v
                                energy += v * v
                            }
                        }
                    }
                }
                guard energy > 0 else { continue }
                correlate(p, ws, keepSpectrum: refine == .upsample || refine == .upsampleFit)
                // The crop's maximum over its valid pixels inside the frame (first of equals in
                // row-major order).
                var best = -1
                var top = -Double.infinity
                mask.isValid.withUnsafeBufferPointer { vp in
                    for cy in max(0, -oy)..<min(side, h - oy) {
                        let row = c + cy &* side, frameRow = (oy + cy) &* w &+ ox
                        for cx in max(0, -ox)..<min(side, w - ox) where row[cx] > top && vp[frameRow &+ cx] {
                            top = row[cx]
                            best = cy &* side &+ cx
                        }
                    }
                }
                guard best >= 0 else { continue }
                out.append(refined(c, ws, width: side, height: side, x: best % side, y: best / side, offsetX: ox, offsetY: oy,
                                   search: s, refine: refine, upsample: upsample, image: image, mask: mask, box: p.box))
            }
            return out
        }
    }

    /// f = pixel - mean of the valid pixels (0 on invalid ones), written to `f`; returns sum f^2,
    /// or nil when no pixel is valid. Sums run in four interleaved accumulators (a fixed order).
    static func zeroMean(_ px: UnsafePointer<Float>, valid: UnsafePointer<Bool>?, count n: Int, into f: UnsafeMutablePointer<Double>) -> Double? {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var count = n
        if let valid {
            count = 0
            for i in 0..<n where valid[i] { s0 += Double(px[i]); count += 1 }
        } else {
            var i = 0
            while i &+ 4 <= n {
                s0 += Double(px[i]); s1 += Double(px[i &+ 1]); s2 += Double(px[i &+ 2]); s3 += Double(px[i &+ 3])
                i &+= 4
            }
            while i < n { s0 += Double(px[i]); i &+= 1 }
        }
        guard count > 0 else { return nil }
        let mean = ((s0 + s1) + (s2 + s3)) / Double(count)
        var e0 = 0.0, e1 = 0.0, e2 = 0.0, e3 = 0.0
        if let valid {
            for i in 0..<n {
                let v = valid[i] ? Double(px[i]) - mean : 0
                f[i] = v
                e0 += v * v
            }
        } else {
            var i = 0
            while i &+ 4 <= n {
                let a = Double(px[i]) - mean, b = Double(px[i &+ 1]) - mean, c = Double(px[i &+ 2]) - mean, d = Double(px[i &+ 3]) - mean
                f[i] = a; f[i &+ 1] = b; f[i &+ 2] = c; f[i &+ 3] = d
                e0 += a * a; e1 += b * b; e2 += c * c; e3 += d * d
                i &+= 4
            }
            while i < n { let a = Double(px[i]) - mean; f[i] = a; e0 += a * a; i &+= 1 }
        }
        return (e0 + e1) + (e2 + e3)
    }

    /// c = IDFT(F conj(T)) / n of the workspace's real array into its `corr`; with
    /// `keepSpectrum` the product spectrum stays in `ws.spectrum` (for upsampling).
    static func correlate(_ p: PreparedTemplate, _ ws: TemplateWorkspace, keepSpectrum: Bool) {
        p.plan.forward(ws.real, into: ws.spectrum)
        p.conjugateSpectrum.withUnsafeBufferPointer { t in
            ws.spectrum.withUnsafeMutableBufferPointer { f in
                let fp = f.baseAddress!, tp = t.baseAddress!
                var k = 0
                let end = f.count
                while k < end {
                    let fr = fp[k], fi = fp[k &+ 1], tr = tp[k], ti = tp[k &+ 1]
                    fp[k] = fr * tr - fi * ti
                    fp[k &+ 1] = fr * ti + fi * tr
                    k &+= 2
                }
            }
        }
        if keepSpectrum {
            ws.spectrum.withUnsafeMutableBufferPointer { src in
                ws.copy.withUnsafeMutableBufferPointer { dst in dst.baseAddress!.update(from: src.baseAddress!, count: src.count) }
            }
            p.plan.inverse(ws.copy, into: ws.corr, normalize: true)
        } else {
            p.plan.inverse(ws.spectrum, into: ws.corr, normalize: true)
        }
    }

    /// The local maxima of c (3 x 3; ties: strictly above earlier neighbours, not below later
    /// ones) on valid pixels above `floor`, strongest first (ties: lower index), skipping maxima
    /// within `separation` of a chosen one, at most `numPeaks`.
    static func strongestMaxima(_ c: UnsafePointer<Double>, valid: UnsafePointer<Bool>, allValid: Bool, width w: Int, height h: Int,
                                floor: Double, numPeaks: Int, separation: Double) -> [Int] {
        let n = w * h
        func isLocalMax(_ i: Int) -> Bool {
            let x = i % w, y = i / w, v = c[i]
            for dy in -1...1 {
                let yy = y + dy
                if yy < 0 || yy >= h { continue }
                for dx in -1...1 where dx != 0 || dy != 0 {
                    let xx = x + dx
                    if xx < 0 || xx >= w { continue }
                    let j = yy * w + xx
                    if j < i ? c[j] >= v : c[j] > v { return false }
                }
            }
            return true
        }
        // One peak wanted: the best local maximum is the largest valid value (first of equals),
        // when that is a local maximum at all (always, unless an invalid neighbour is higher).
        if numPeaks == 1 {
            var best = -1
            var top = floor
            if allValid {
                for i in 0..<n where c[i] > top { top = c[i]; best = i }
            } else {
                for i in 0..<n where c[i] > top && valid[i] { top = c[i]; best = i }
            }
            if best < 0 { return [] }
            if isLocalMax(best) { return [best] }
        }
        var maxima: [Int] = []
        for y in 0..<h {
            let interiorRow = y > 0 && y < h - 1
            for x in 0..<w {
                let i = y &* w &+ x
                let v = c[i]
                guard v > floor, valid[i] else { continue }
                if interiorRow && x > 0 && x < w - 1 {
                    // Earlier neighbours (row above, left) must be strictly lower.
                    if c[i &- w &- 1] >= v || c[i &- w] >= v || c[i &- w &+ 1] >= v || c[i &- 1] >= v { continue }
                    if c[i &+ 1] > v || c[i &+ w &- 1] > v || c[i &+ w] > v || c[i &+ w &+ 1] > v { continue }
                    maxima.append(i)
                } else if isLocalMax(i) {
                    maxima.append(i)
                }
            }
        }
        func better(_ a: Int, _ b: Int) -> Bool { c[a] != c[b] ? c[a] > c[b] : a < b }
        var chosen: [Int] = []
        let sep2 = separation * separation
        func accept(_ i: Int) {
            let x = i % w, y = i / w
            if chosen.contains(where: { j in
                let dx = Double(j % w - x), dy = Double(j / w - y)
                return dx * dx + dy * dy < sep2
            }) { return }
            chosen.append(i)
        }
        // Few peaks wanted: repeated selection of the best remaining; many: one sort.
        if numPeaks <= 16 {
            var remaining = maxima
            while chosen.count < numPeaks, !remaining.isEmpty {
                var b = 0
                for k in 1..<remaining.count where better(remaining[k], remaining[b]) { b = k }
                accept(remaining[b])
                remaining.swapAt(b, remaining.count - 1)
                remaining.removeLast()
            }
        } else {
            maxima.sort(by: better)
            for i in maxima where chosen.count < numPeaks { accept(i) }
        }
        return chosen
    }

    /// The match at the whole pixel (x, y) of the correlation c (`w x h`, whose pixel (0, 0) is
    /// frame pixel (offsetX, offsetY)), refined.
    static func refined(_ c: UnsafePointer<Double>, _ ws: TemplateWorkspace, width w: Int, height h: Int, x: Int, y: Int,
                        offsetX: Int, offsetY: Int, search: Int, refine: TemplateDetector.Refine, upsample: Int,
                        image: Image, mask: Mask, box: TemplateBox) -> TemplateMatch {
        let c0 = c[y * w + x]
        var rx = Double(x), ry = Double(y), refined = true
        switch refine {
        case .none: break
        case .com:
            (rx, ry, refined) = centreOfMass(c, width: w, height: h, x: x, y: y, radius: min(2, search))
        case .parabolic:
            (rx, ry, refined) = parabolic(c, width: w, height: h, x: x, y: y)
        case .upsample, .upsampleFit:
            (rx, ry, refined) = ws.spectrum.withUnsafeMutableBufferPointer { s in
                Upsampling.peak(UnsafeBufferPointer(s), width: w, height: h, x: x, y: y, factor: upsample, fit: refine == .upsampleFit)
            }
        }
        let elevation = elevation(c, width: w, height: h, x: rx, y: ry, height: c0, search: search)
        let fx = x + offsetX, fy = y + offsetY
        let inside = fx >= 0 && fy >= 0 && fx < image.width && fy < image.height
        return TemplateMatch(
            x: rx + Double(offsetX), y: ry + Double(offsetY), pixelX: fx, pixelY: fy, correlation: c0,
            ncc: inside ? normalisedCorrelation(image, mask: mask, box: box, x: fx, y: fy) : 0,
            elevation: elevation, refined: refined)
    }

    /// Centre of mass of the (2r + 1)^2 correlation values around (x, y) above a level; r shrinks
    /// at the border (r = 0: the whole pixel). blobfinder's `refine_center` subtracts the window's
    /// minimum, which weighs the whole window and pulls the result toward the window's centre
    /// (pixel locking). Here the level is the largest value on the window's edge: for a unimodal
    /// peak the part above it lies wholly inside the window, so a symmetric peak's centre of mass
    /// is its centre up to the sampling of that cap.
    static func centreOfMass(_ c: UnsafePointer<Double>, width w: Int, height h: Int, x: Int, y: Int, radius: Int) -> (Double, Double, Bool) {
        let r = min(radius, x, y, w - 1 - x, h - 1 - y)
        guard r > 0 else { return (Double(x), Double(y), false) }
        var level = -Double.infinity
        for yy in (y - r)...(y + r) {
            for xx in (x - r)...(x + r) where abs(yy - y) == r || abs(xx - x) == r { level = max(level, c[yy * w + xx]) }
        }
        var s = 0.0, sx = 0.0, sy = 0.0
        for yy in (y - r)...(y + r) {
            for xx in (x - r)...(x + r) {
                let v = c[yy * w + xx] - level
                guard v > 0 else { continue }
                s += v
                sx += v * Double(xx - x)
                sy += v * Double(yy - y)
            }
        }
        guard s > 0 else { return (Double(x), Double(y), false) }
        return (Double(x) + sx / s, Double(y) + sy / s, true)
    }

    /// Vertex of the least-squares quadratic through the 3 x 3 values (falls back at the border,
    /// when not a maximum, or when the vertex is more than a pixel away).
    static func parabolic(_ c: UnsafePointer<Double>, width w: Int, height h: Int, x: Int, y: Int) -> (Double, Double, Bool) {
        guard x >= 1, y >= 1, x + 1 < w, y + 1 < h else { return (Double(x), Double(y), false) }
        var v = [Double](repeating: 0, count: 9)
        for dy in -1...1 { for dx in -1...1 { v[(dy + 1) * 3 + dx + 1] = c[(y + dy) * w + x + dx] } }
        guard let o = quadraticVertex(v) else { return (Double(x), Double(y), false) }
        return (Double(x) + o.0, Double(y) + o.1, true)
    }

    /// Offset of the vertex of the least-squares quadratic through 3 x 3 values (v[(dy+1)*3 + dx+1]),
    /// or nil when it is not a maximum or lies more than 1 away.
    static func quadraticVertex(_ v: [Double]) -> (Double, Double)? {
        var sU = 0.0, sV = 0.0, sUV = 0.0, sU2 = 0.0, sV2 = 0.0
        for dy in -1...1 {
            for dx in -1...1 {
                let f = v[(dy + 1) * 3 + dx + 1], u = Double(dx), t = Double(dy)
                sU += u * f; sV += t * f; sUV += u * t * f
                sU2 += (u * u - 2.0 / 3) * f; sV2 += (t * t - 2.0 / 3) * f
            }
        }
        let gx = sU / 6, gy = sV / 6, hxx = sU2, hyy = sV2, hxy = sUV / 4
        let det = hxx * hyy - hxy * hxy
        guard hxx < 0, det > 0, det.isFinite else { return nil }
        let ox = -(hyy * gx - hxy * gy) / det, oy = -(hxx * gy - hxy * gx) / det
        guard ox.isFinite, oy.isFinite, abs(ox) <= 1, abs(oy) <= 1 else { return nil }
        return (ox, oy)
    }

    /// blobfinder's `peak_elevation`: min over pixels at distance 1.5 <= d from (x, y), inside the
    /// (2 search + 1)^2 window, of (height - c) / d; at least 0.
    static func elevation(_ c: UnsafePointer<Double>, width w: Int, height h: Int, x: Double, y: Double, height top: Double, search: Int) -> Double {
        let cx = Int(x.rounded()), cy = Int(y.rounded())
        // Four columns at a time (SIMD; the minimum of the same quotients, so the same result).
        let inf = SIMD4<Double>(repeating: .infinity), lanes = SIMD4<Double>(0, 1, 2, 3)
        var best4 = inf
        var best = Double.infinity
        let x0 = max(0, cx - search), x1 = min(w - 1, cx + search)
        for yy in max(0, cy - search)...min(h - 1, cy + search) {
            let dy = Double(yy) - y, dy2 = dy * dy
            let row = c + yy &* w
            var xx = x0
            while xx &+ 3 <= x1 {
                let dx = (SIMD4<Double>(repeating: Double(xx)) + lanes) - SIMD4<Double>(repeating: x)
                let d = (dx * dx + SIMD4<Double>(repeating: dy2)).squareRoot()
                let v = SIMD4<Double>(row[xx], row[xx &+ 1], row[xx &+ 2], row[xx &+ 3])
                let q = (SIMD4<Double>(repeating: top) - v) / d
                best4 = pointwiseMin(best4, inf.replacing(with: q, where: d .>= 1.5))
                xx &+= 4
            }
            while xx <= x1 {
                let dx = Double(xx) - x
                let d = (dx * dx + dy2).squareRoot()
                if d >= 1.5 { best = min(best, (top - row[xx]) / d) }
                xx &+= 1
            }
        }
        best = min(best, best4.min())
        return best.isFinite ? max(0, best) : 0
    }

    /// Pearson correlation of the template and the frame under it with the template's origin at
    /// (x, y), over the valid pixels inside the frame (Lewis 1995, direct sum).
    static func normalisedCorrelation(_ image: Image, mask: Mask, box: TemplateBox, x: Int, y: Int) -> Double {
        var n = 0.0, sf = 0.0, st = 0.0, sff = 0.0, stt = 0.0, sft = 0.0
        for ty in 0..<box.height {
            let fy = y + ty - box.originY
            if fy < 0 || fy >= image.height { continue }
            for tx in 0..<box.width {
                let fx = x + tx - box.originX
                if fx < 0 || fx >= image.width { continue }
                let i = fy * image.width + fx
                guard mask.isValid[i] else { continue }
                let f = Double(image.pixels[i]), t = box.values[ty * box.width + tx]
                n += 1; sf += f; st += t; sff += f * f; stt += t * t; sft += f * t
            }
        }
        guard n > 1 else { return 0 }
        let vf = sff - sf * sf / n, vt = stt - st * st / n
        guard vf > 1e-12 * max(sff, 1e-300), vt > 1e-12 * max(stt, 1e-300) else { return 0 }
        return max(-1, min(1, (sft - sf * st / n) / (vf * vt).squareRoot()))
    }
}
