import Foundation
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

/// The template detector's core, on one frame (single-threaded apart from the transforms, which
/// are deterministic: results do not depend on the thread count).
enum TemplateMatcher {
    static func match(
        _ image: Image, mask: Mask, prepared p: PreparedTemplate, numPeaks: Int, separation: Double,
        search: Int, refine: TemplateDetector.Refine, upsample: Int
    ) -> [TemplateMatch] {
        let w = image.width, h = image.height, n = w * h
        // Frame minus the mean of its valid pixels; invalid pixels 0 (= the mean).
        var sum = 0.0, count = 0
        for i in 0..<n where mask.isValid[i] { sum += Double(image.pixels[i]); count += 1 }
        guard count > 0 else { return [] }
        let mean = sum / Double(count)
        var frame = [Double](repeating: 0, count: n)
        var energy = 0.0
        for i in 0..<n where mask.isValid[i] {
            let v = Double(image.pixels[i]) - mean
            frame[i] = v
            energy += v * v
        }
        // A flat frame matches nothing (its correlation is rounding noise).
        guard energy > 0 else { return [] }

        // C = F conj(T), kept for upsampling; c = IDFT(C) / n.
        let plan = p.plan
        let spectrum = FFTHalfSpectrum<Double>(uninitializedWidth: w, height: h)
        frame.withUnsafeBufferPointer { src in
            let base = SharedPointer(UnsafeMutablePointer(mutating: src.baseAddress!))
            plan.forward(into: spectrum) { y, row in
                row.update(from: base.base + y &* w, count: w)
                return true
            }
        }
        let sw = w / 2 + 1
        p.conjugateSpectrum.withUnsafeBufferPointer { t in
            spectrum.withUnsafeMutableBufferPointer { f in
                var k = 0
                while k < 2 * sw * h {
                    let fr = f[k], fi = f[k + 1], tr = t[k], ti = t[k + 1]
                    f[k] = fr * tr - fi * ti
                    f[k + 1] = fr * ti + fi * tr
                    k += 2
                }
            }
        }
        var corr = [Double](repeating: 0, count: n)
        let work = FFTHalfSpectrum<Double>(uninitializedWidth: w, height: h)
        let scale = 1 / Double(n)
        corr.withUnsafeMutableBufferPointer { out in
            let dst = SharedPointer(out.baseAddress!)
            plan.inverse(spectrum, work: work, rows: 0..<h) { y, row in
                let o = dst.base + y &* w
                for x in 0..<w { o[x] = row[x] * scale }
            }
        }
        // Rounding level of c: |c| <= sqrt(sum f^2 sum t^2) (Cauchy-Schwarz).
        let floor = 1e-9 * (energy.squareRoot() * p.box.norm)

        // Local maxima (3 x 3; ties: strictly above earlier neighbours, not below later ones).
        var maxima: [Int] = []
        corr.withUnsafeBufferPointer { cp in
            mask.isValid.withUnsafeBufferPointer { vp in
                let c = cp.baseAddress!, valid = vp.baseAddress!
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
                            continue
                        }
                        var isMax = true
                        for dy in -1...1 where isMax {
                            let yy = y + dy
                            if yy < 0 || yy >= h { continue }
                            for dx in -1...1 where dx != 0 || dy != 0 {
                                let xx = x + dx
                                if xx < 0 || xx >= w { continue }
                                let j = yy * w + xx
                                if j < i ? c[j] >= v : c[j] > v { isMax = false; break }
                            }
                        }
                        if isMax { maxima.append(i) }
                    }
                }
            }
        }
        // Strongest first (ties: lower index), skipping maxima within `separation` of a chosen
        // one. Few peaks wanted: repeated selection of the best remaining; many: one sort.
        func better(_ a: Int, _ b: Int) -> Bool { corr[a] != corr[b] ? corr[a] > corr[b] : a < b }
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

        var out: [TemplateMatch] = []
        for i in chosen {
            let x = i % w, y = i / w
            let c0 = corr[i]
            var rx = Double(x), ry = Double(y), refined = true
            switch refine {
            case .none: break
            case .com:
                (rx, ry, refined) = centreOfMass(corr, width: w, height: h, x: x, y: y, radius: min(2, search))
            case .parabolic:
                (rx, ry, refined) = parabolic(corr, width: w, height: h, x: x, y: y)
            case .upsample, .upsampleFit:
                (rx, ry, refined) = spectrum.withUnsafeMutableBufferPointer { s in
                    Upsampling.peak(UnsafeBufferPointer(s), width: w, height: h, x: x, y: y, factor: upsample, fit: refine == .upsampleFit)
                }
            }
            out.append(TemplateMatch(
                x: rx, y: ry, pixelX: x, pixelY: y, correlation: c0,
                ncc: normalisedCorrelation(image, mask: mask, box: p.box, x: x, y: y),
                elevation: elevation(corr, width: w, height: h, x: rx, y: ry, height: c0, search: search),
                refined: refined))
        }
        return out
    }

    /// Centre of mass of the (2r + 1)^2 correlation values around (x, y) above a level; r shrinks
    /// at the border (r = 0: the whole pixel). blobfinder's `refine_center` subtracts the window's
    /// minimum, which weighs the whole window and pulls the result toward the window's centre
    /// (pixel locking). Here the level is the largest value on the window's edge: for a unimodal
    /// peak the part above it lies wholly inside the window, so a symmetric peak's centre of mass
    /// is its centre up to the sampling of that cap.
    static func centreOfMass(_ c: [Double], width w: Int, height h: Int, x: Int, y: Int, radius: Int) -> (Double, Double, Bool) {
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
    static func parabolic(_ c: [Double], width w: Int, height h: Int, x: Int, y: Int) -> (Double, Double, Bool) {
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
    static func elevation(_ c: [Double], width w: Int, height h: Int, x: Double, y: Double, height top: Double, search: Int) -> Double {
        let cx = Int(x.rounded()), cy = Int(y.rounded())
        var best = Double.infinity
        for yy in max(0, cy - search)...min(h - 1, cy + search) {
            for xx in max(0, cx - search)...min(w - 1, cx + search) {
                let dx = Double(xx) - x, dy = Double(yy) - y
                let d = (dx * dx + dy * dy).squareRoot()
                if d >= 1.5 { best = min(best, (top - c[yy * w + xx]) / d) }
            }
        }
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
