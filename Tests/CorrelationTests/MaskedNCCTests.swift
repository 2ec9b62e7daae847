import Filters
import Foundation
import Testing
import Harness
import PeakKit
@testable import Correlation

/// The masked NCC by its definition: for each lag d, the Pearson correlation of fixed(x) and
/// moving(x - d) over the pixels valid in both; 0 where the overlap is below the ratio cut-off
/// (relative to the largest overlap in the window) or a variance is zero.
private func directMaskedNCC(_ f: Image, _ fm: Mask, _ g: Image, _ gm: Mask, mode: CorrelationMode, ratio: Double) -> CorrelationMap {
    let fullW = f.width + g.width - 1, fullH = f.height + g.height - 1
    let cm = mode.convolutionMode
    let sx = cm.fullOffset(input: f.width, kernel: g.width), sy = cm.fullOffset(input: f.height, kernel: g.height)
    let w = mode == .full ? fullW : f.width, h = mode == .full ? fullH : f.height
    let ox = sx - (g.width - 1), oy = sy - (g.height - 1)
    var counts = [Double](repeating: 0, count: w * h), r = counts
    for row in 0..<h {
        for col in 0..<w {
            let dx = col + ox, dy = row + oy
            var n = 0.0, a = 0.0, b = 0.0
            var pairs: [(Double, Double)] = []
            for y in 0..<f.height {
                for x in 0..<f.width {
                    let gx = x - dx, gy = y - dy
                    guard gx >= 0, gy >= 0, gx < g.width, gy < g.height, fm[x, y], gm[gx, gy] else { continue }
                    let p = (Double(f[x, y]), Double(g[gx, gy]))
                    pairs.append(p)
                    n += 1; a += p.0; b += p.1
                }
            }
            counts[row * w + col] = n
            guard n > 0 else { continue }
            let ma = a / n, mb = b / n
            var sab = 0.0, saa = 0.0, sbb = 0.0
            for p in pairs { sab += (p.0 - ma) * (p.1 - mb); saa += (p.0 - ma) * (p.0 - ma); sbb += (p.1 - mb) * (p.1 - mb) }
            r[row * w + col] = (saa > 1e-12 && sbb > 1e-12) ? sab / (saa * sbb).squareRoot() : 0
        }
    }
    let maxN = counts.max() ?? 0
    for i in 0..<r.count where counts[i] < max(1, ratio * maxN) { r[i] = 0 }
    return CorrelationMap(width: w, height: h, values: r, originX: ox, originY: oy)
}

private func randomMask(width: Int, height: Int, validFraction: Double, rng: inout SeededRandom) -> Mask {
    Mask(width: width, height: height, isValid: (0..<(width * height)).map { _ in rng.uniform() < validFraction })
}

@Suite struct MaskedNCCAgainstDirect {
    @Test(arguments: [CorrelationMode.full, .same])
    func randomSmallImages(mode: CorrelationMode) throws {
        var rng = SeededRandom(seed: 11)
        for trial in 0..<6 {
            let (fw, fh, gw, gh) = [(9, 7, 6, 8), (8, 8, 8, 8), (12, 5, 4, 9), (5, 11, 7, 3), (10, 10, 3, 3), (7, 6, 11, 9)][trial]
            var f = randomImage(width: fw, height: fh, rng: &rng)
            let g = randomImage(width: gw, height: gh, rng: &rng)
            // A large offset on one image: the centring must keep the variances accurate.
            f.pixels = f.pixels.map { $0 * 0.01 + 1000 }
            let fm = randomMask(width: fw, height: fh, validFraction: 0.75, rng: &rng)
            let gm = randomMask(width: gw, height: gh, validFraction: 0.75, rng: &rng)
            for ratio in [0.0, 0.3] {
                let fast = try MaskedNCC.correlate(fixed: f, fixedMask: fm, moving: g, movingMask: gm, mode: mode, overlapRatio: ratio)
                let slow = directMaskedNCC(f, fm, g, gm, mode: mode, ratio: ratio)
                #expect(fast.width == slow.width && fast.height == slow.height)
                #expect(fast.originX == slow.originX && fast.originY == slow.originY)
                var worst = 0.0
                for i in 0..<slow.values.count { worst = max(worst, abs(fast.values[i] - slow.values[i])) }
                #expect(worst < 1e-6, "trial \(trial) ratio \(ratio): max difference \(worst)")
                #expect(fast.values.allSatisfy { $0.isFinite && abs($0) <= 1 })
            }
        }
    }

    @Test func pointInversionMatchesTheGeneralRoutine() throws {
        var rng = SeededRandom(seed: 5)
        let img = randomImage(width: 15, height: 15, rng: &rng)
        let m = randomMask(width: 15, height: 15, validFraction: 0.8, rng: &rng)
        let inv = Image(width: 15, height: 15) { x, y in img[14 - x, 14 - y] }
        var invMask = m
        for y in 0..<15 { for x in 0..<15 { invMask[x, y] = m[14 - x, 14 - y] } }
        let general = try MaskedNCC.correlate(fixed: img, fixedMask: m, moving: inv, movingMask: invMask, mode: .full)
        let special = try MaskedNCC.correlateWithInversion(img, mask: m, maxLag: 5)
        for row in 0..<special.height {
            for col in 0..<special.width {
                let dx = col + special.originX, dy = row + special.originY
                let g = try #require(general.value(atDX: dx, dy: dy))
                #expect(abs(g - special[col, row]) < 1e-9)
            }
        }
    }

    @Test func flatAndMaskedOutInputsGiveZerosNotNaN() throws {
        let flat = Image(width: 16, height: 12, repeating: 3)
        var rng = SeededRandom(seed: 2)
        let tex = randomImage(width: 16, height: 12, rng: &rng)
        let map = try MaskedNCC.correlate(fixed: flat, moving: tex, mode: .same)
        #expect(map.values.allSatisfy { $0 == 0 })
        let none = Mask(width: 16, height: 12, allValid: false)
        let map2 = try MaskedNCC.correlate(fixed: tex, fixedMask: none, moving: tex, mode: .full)
        #expect(map2.values.allSatisfy { $0 == 0 })
        #expect(throws: PeaksError.self) { try MaskedNCC.correlate(fixed: tex, fixedMask: Mask(width: 3, height: 3), moving: tex) }
        #expect(throws: PeaksError.self) { try MaskedNCC.correlate(fixed: Image(width: 0, height: 0), moving: tex) }
        #expect(throws: PeaksError.self) { try MaskedNCC.correlate(fixed: tex, moving: tex, overlapRatio: 1.5) }
    }
}

@Suite struct MaskedRegistrationAccuracy {
    /// reference = big[y0.., x0..], moving = big[y0 + sy.., x0 + sx..]: moving(x) = reference(x + s),
    /// so the shift to apply to MOVING is s.
    static func pair(sx: Int, sy: Int, size: Int = 128, seed: UInt64 = 21) -> (Image, Image) {
        let big = texture(width: size + 64, height: size + 64, seed: seed)
        return (crop(big, x0: 32, y0: 32, w: size, h: size), crop(big, x0: 32 + sx, y0: 32 + sy, w: size, h: size))
    }

    @Test(arguments: [(-7, 12), (15, -3), (0, 0), (-20, -19)])
    func wholePixelShiftWithAQuarterOfThePixelsCorrupted(shift: (Int, Int)) throws {
        var (ref, mov) = Self.pair(sx: shift.0, sy: shift.1)
        var rng = SeededRandom(seed: UInt64(bitPattern: Int64(1000 + shift.0 * 7 + shift.1)))
        var rm = Mask(width: ref.width, height: ref.height), mm = rm
        for i in 0..<ref.count {
            if rng.uniform() < 0.25 { ref.pixels[i] = Float(rng.uniform(-1e4, 1e4)); rm.isValid[i] = false }
            if rng.uniform() < 0.25 { mov.pixels[i] = Float(rng.uniform(-1e4, 1e4)); mm.isValid[i] = false }
        }
        let r = try MaskedNCC.register(reference: ref, moving: mov, referenceMask: rm, movingMask: mm)
        #expect(r.pixelDX == shift.0 && r.pixelDY == shift.1, "\(r)")
        #expect(Int(r.dx.rounded()) == shift.0 && Int(r.dy.rounded()) == shift.1)
        #expect(abs(r.dx - Double(shift.0)) < 0.1 && abs(r.dy - Double(shift.1)) < 0.1)
        #expect((r.peakCorrelation ?? 0) > 0.9)
    }

    @Test(arguments: [(-9, 5), (13, 8)])
    func wholePixelShiftWithTwoDifferentPartialViews(shift: (Int, Int)) throws {
        let (ref, mov) = Self.pair(sx: shift.0, sy: shift.1, seed: 33)
        // The reference sees its left 70 %; the moving image a disc in its lower right part.
        let rm = Mask(width: 128, height: 128, isValid: (0..<(128 * 128)).map { $0 % 128 < 90 })
        let mm = Mask(width: 128, height: 128, isValid: (0..<(128 * 128)).map { i in
            let x = Double(i % 128) - 75, y = Double(i / 128) - 70
            return x * x + y * y < 50 * 50
        })
        let r = try MaskedNCC.register(reference: ref, moving: mov, referenceMask: rm, movingMask: mm)
        #expect(r.pixelDX == shift.0 && r.pixelDY == shift.1, "\(r)")
        #expect(abs(r.dx - Double(shift.0)) < 0.1 && abs(r.dy - Double(shift.1)) < 0.1)
    }

    @Test func subpixelShiftOfMaskedNCCIsRefined() throws {
        let big = texture(width: 128, height: 128, seed: 8, sigma: 3)
        var worst = 0.0
        for (sx, sy) in [(0.3, -0.4), (-1.25, 2.5), (3.7, 0.1)] {
            let mov = fourierShift(big, sx: sx, sy: sy)  // mov(x) = big(x - s): shift to apply = -s
            var mask = Mask(width: 128, height: 128)
            for y in 0..<128 { for x in 0..<128 where x < 6 || y < 6 || x > 121 || y > 121 { mask[x, y] = false } }
            let r = try MaskedNCC.register(reference: big, moving: mov, referenceMask: mask, movingMask: mask)
            worst = max(worst, abs(r.dx + sx), abs(r.dy + sy))
        }
        #expect(worst < 0.15, "worst error \(worst) px")
    }
}

@Suite struct PeakFitting {
    @Test(arguments: [PeakFitMethod.diff, .polyFit])
    func quadraticSurfacesAreExact(method: PeakFitMethod) {
        let (x0, y0) = (3.3, 2.8)
        var v = [Double](repeating: 0, count: 7 * 6)
        for y in 0..<6 { for x in 0..<7 {
            let dx = Double(x) - x0, dy = Double(y) - y0
            v[y * 7 + x] = 5 - dx * dx - 2 * dy * dy + 0.5 * dx * dy
        } }
        let fit = SubpixelRefinement.surfacePeak(v, width: 7, height: 6, col: 3, row: 3, method: method)
        #expect(!fit.fellBack)
        #expect(abs(fit.col - x0) < 1e-12 && abs(fit.row - y0) < 1e-12)
        #expect(abs(fit.value - 5) < 1e-12)
    }

    @Test func fallsBackAtTheBorderAndOnSaddles() {
        let v: [Double] = [0, 1, 0, 1, 0, 1, 0, 1, 0]  // a saddle at the centre
        #expect(SubpixelRefinement.surfacePeak(v, width: 3, height: 3, col: 1, row: 1, method: .diff).fellBack)
        #expect(SubpixelRefinement.surfacePeak(v, width: 3, height: 3, col: 0, row: 1, method: .polyFit).fellBack)
    }
}
