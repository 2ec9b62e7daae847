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

/// DFT upsampling of a correlation around one maximum (Guizar-Sicairos, Thurman & Fienup,
/// Opt. Lett. 33(2), 2008; blobfinder's `refine_center_upsampling`): the correlation
/// c(d) = (1/N) sum_k C(k) exp(+2 pi i k.d / N) is evaluated at the points of a
/// ceil(1.5 k) x ceil(1.5 k) grid of spacing 1/k centred on the whole-pixel maximum, as two
/// matrix products, and the best grid point is the refined position.
///
/// C is a half spectrum (FFTW r2c) of a real correlation, so with numpy's signed frequencies
/// (Nyquist = -n/2) and only the real part wanted:
///
///     c(dx, dy) ~ Re sum_v e_v(dy) [C(v, 0) + 2 sum_{u=1}^{(w-1)/2} C(v, u) e_u(dx) + [w even] C(v, w/2) e^{-i pi dx}]
///
/// with e_u(dx) = exp(2 pi i u dx / w), e_v(dy) = exp(2 pi i f_v dy / h). Cost per peak:
/// h (w/2 + 1) K + K^2 h complex products for K = ceil(1.5 k): about 0.1 ms for 64^2 and k = 20.
enum Upsampling {
    /// The refined position near the whole pixel (x, y) and whether it moved off the grid centre
    /// by a real refinement (always true: the grid point is a result in itself).
    ///
    /// - Parameters:
    ///   - spectrum: The half spectrum C, interleaved (re, im), h rows of w/2 + 1.
    ///   - factor: k, the grid spacing is 1/k.
    ///   - fit: Refine the best grid point by a quadratic through its 3 x 3 grid neighbours.
    static func peak(_ spectrum: UnsafeBufferPointer<Double>, width w: Int, height h: Int, x: Int, y: Int,
                     factor k: Int, fit: Bool) -> (Double, Double, Bool) {
        let sw = w / 2 + 1
        let region = Int((1.5 * Double(k)).rounded(.up))
        let centre = region / 2
        let kd = Double(k)
        let pairs = (w - 1) / 2
        let evenW = w % 2 == 0

        // Column kernel ex[u][rx] = weight_u exp(2 pi i f_u dx / w), by powers of exp(2 pi i dx / w)
        // (stored u-major so that the products below run along rx: vectorisable, no reductions).
        var exr = [Double](repeating: 0, count: region * sw), exi = exr
        for rx in 0..<region {
            let dx = Double(x) + Double(rx - centre) / kd
            let a = 2 * Double.pi * dx / Double(w)
            let br = cos(a), bi = sin(a)
            var pr = 1.0, pi = 0.0
            exr[rx] = 1
            exi[rx] = 0
            var u = 1
            while u <= pairs {
                let nr = pr * br - pi * bi, ni = pr * bi + pi * br
                pr = nr; pi = ni
                exr[u * region + rx] = 2 * pr
                exi[u * region + rx] = 2 * pi
                u += 1
            }
            if evenW && w > 1 {
                let an = -Double.pi * dx
                exr[(w / 2) * region + rx] = cos(an)
                exi[(w / 2) * region + rx] = sin(an)
            }
        }
        // T[v][rx] = sum_u C(v, u) ex[u][rx].
        var tr = [Double](repeating: 0, count: h * region), ti = tr
        exr.withUnsafeBufferPointer { er in
            exi.withUnsafeBufferPointer { ei in
                tr.withUnsafeMutableBufferPointer { otr in
                    ti.withUnsafeMutableBufferPointer { oti in
                        let er0 = er.baseAddress!, ei0 = ei.baseAddress!
                        for v in 0..<h {
                            let row = spectrum.baseAddress! + 2 * v * sw
                            let dr = otr.baseAddress! + v * region, di = oti.baseAddress! + v * region
                            for u in 0..<sw {
                                let cr = row[2 * u], ci = row[2 * u + 1]
                                let kr = er0 + u * region, ki = ei0 + u * region
                                for rx in 0..<region {
                                    dr[rx] += cr * kr[rx] - ci * ki[rx]
                                    di[rx] += cr * ki[rx] + ci * kr[rx]
                                }
                            }
                        }
                    }
                }
            }
        }
        // Row kernel ey[ry][v] = exp(2 pi i f_v dy / h).
        var out = [Double](repeating: 0, count: region * region)
        var eyr = [Double](repeating: 0, count: h), eyi = eyr
        for ry in 0..<region {
            let dy = Double(y) + Double(ry - centre) / kd
            let a = 2 * Double.pi * dy / Double(h)
            let br = cos(a), bi = sin(a)
            var pr = 1.0, pi = 0.0
            eyr[0] = 1; eyi[0] = 0
            let half = (h - 1) / 2
            var v = 1
            while v <= h / 2 {
                let nr = pr * br - pi * bi, ni = pr * bi + pi * br
                pr = nr; pi = ni
                if v <= half {
                    eyr[v] = pr; eyi[v] = pi          // f = v
                    eyr[h - v] = pr; eyi[h - v] = -pi // f = -v
                } else {
                    eyr[v] = pr; eyi[v] = -pi         // v = h/2 (h even): f = -h/2
                }
                v += 1
            }
            out.withUnsafeMutableBufferPointer { po in
                tr.withUnsafeBufferPointer { ptr in
                    ti.withUnsafeBufferPointer { pti in
                        let o = po.baseAddress! + ry * region
                        for v in 0..<h {
                            let c = eyr[v], s = eyi[v]
                            let a = ptr.baseAddress! + v * region, b = pti.baseAddress! + v * region
                            for rx in 0..<region { o[rx] += a[rx] * c - b[rx] * s }
                        }
                    }
                }
            }
        }
        var best = 0
        for i in 1..<out.count where out[i] > out[best] { best = i }
        let bx = best % region, by = best / region
        var ox = Double(bx - centre) / kd, oy = Double(by - centre) / kd
        if fit, bx >= 1, by >= 1, bx + 1 < region, by + 1 < region {
            var v = [Double](repeating: 0, count: 9)
            for dy in -1...1 { for dx in -1...1 { v[(dy + 1) * 3 + dx + 1] = out[(by + dy) * region + bx + dx] } }
            if let o = TemplateMatcher.quadraticVertex(v) {
                ox += o.0 / kd
                oy += o.1 / kd
            }
        }
        return (Double(x) + ox, Double(y) + oy, true)
    }
}
