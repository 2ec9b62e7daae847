import Foundation
import Testing
import Harness
import PeakKit
import Spectral
@testable import Correlation

/// normxcorr2 by its definition (MATLAB: the image is zero outside), 0 where a variance is 0.
private func bruteNCC(template t: Image, image f: Image, mode: ConvolutionMode) -> CorrelationMap {
    let ow = mode.outputLength(input: f.width, kernel: t.width), oh = mode.outputLength(input: f.height, kernel: t.height)
    let ox = mode.fullOffset(input: f.width, kernel: t.width) - (t.width - 1)
    let oy = mode.fullOffset(input: f.height, kernel: t.height) - (t.height - 1)
    let n = Double(t.count)
    let tm = t.pixels.reduce(0.0) { $0 + Double($1) } / n
    var out = [Double](repeating: 0, count: ow * oh)
    for r in 0..<oh { for c in 0..<ow {
        let u = c + ox, v = r + oy
        var vals: [Double] = []
        for y in 0..<t.height { for x in 0..<t.width {
            let ix = u + x, iy = v + y
            vals.append(ix >= 0 && iy >= 0 && ix < f.width && iy < f.height ? Double(f[ix, iy]) : 0)
        } }
        let fm = vals.reduce(0, +) / n
        var num = 0.0, ff = 0.0, tt = 0.0
        for (k, fv) in vals.enumerated() {
            let tv = Double(t.pixels[k]) - tm
            num += (fv - fm) * tv; ff += (fv - fm) * (fv - fm); tt += tv * tv
        }
        out[r * ow + c] = ff > 1e-9 ? num / (ff * tt).squareRoot() : 0
    } }
    return CorrelationMap(width: ow, height: oh, values: out, originX: ox, originY: oy)
}

@Suite struct NormXCorr2Tests {
    @Test(arguments: ConvolutionMode.allCases)
    func agreesWithBruteForce(mode: ConvolutionMode) throws {
        var rng = SeededRandom(seed: 17)
        for (iw, ih, tw, th) in [(23, 19, 5, 7), (16, 16, 6, 6), (12, 30, 4, 3), (9, 9, 9, 9)] {
            var image = randomImage(width: iw, height: ih, rng: &rng)
            image.pixels = image.pixels.map { $0 * 10 + 500 }   // offset: tests the centring
            // A flat patch (local variance 0 in some placements).
            for y in 0..<min(ih, 8) { for x in 0..<min(iw, 8) { image[x, y] = 500 } }
            let template = randomImage(width: tw, height: th, rng: &rng)
            let fast = try NormXCorr2.correlate(template: template, image: image, mode: mode)
            let slow = bruteNCC(template: template, image: image, mode: mode)
            #expect(fast.width == slow.width && fast.height == slow.height && fast.originX == slow.originX && fast.originY == slow.originY)
            var worst = 0.0
            for i in 0..<slow.values.count { worst = max(worst, abs(fast.values[i] - slow.values[i])) }
            #expect(worst < 1e-6, "\(iw)x\(ih) / \(tw)x\(th) \(mode): \(worst)")
            #expect(fast.values.allSatisfy { $0.isFinite && $0 >= -1 && $0 <= 1 })
        }
    }

    @Test(arguments: ConvolutionMode.allCases)
    func findsAPlantedTemplate(mode: ConvolutionMode) throws {
        let image = texture(width: 90, height: 70, seed: 12)
        let template = crop(image, x0: 37, y0: 21, w: 15, h: 12)
        let m = try NormXCorr2.match(template: template, image: image, mode: mode)
        #expect(m.pixelDX == 37 && m.pixelDY == 21, "\(mode): \(m.pixelDX), \(m.pixelDY)")
        #expect(abs(m.peak - 1) < 1e-9)
        // The quadratic fit of a slightly asymmetric correlation peak: measured 0.04-0.07 px.
        #expect(abs(m.dx - 37) < 0.1 && abs(m.dy - 21) < 0.1, "\(m.dx), \(m.dy)")
    }

    @Test func flatImageGivesZerosAndFlatTemplateIsAnError() throws {
        let flat = Image(width: 30, height: 20, repeating: 7)
        let t = texture(width: 5, height: 5, seed: 3)
        let map = try NormXCorr2.correlate(template: t, image: flat, mode: .valid)
        #expect(map.values.allSatisfy { $0 == 0 })
        let full = try NormXCorr2.correlate(template: t, image: flat, mode: .full)
        #expect(full.values.allSatisfy { $0.isFinite })
        #expect(throws: PeaksError.self) { try NormXCorr2.correlate(template: Image(width: 4, height: 4, repeating: 2), image: flat) }
    }

    @Test func matchAroundPointsOfInterest() throws {
        let big = texture(width: 120, height: 100, seed: 44)
        let first = crop(big, x0: 10, y0: 10, w: 90, h: 80)
        let second = crop(big, x0: 14, y0: 7, w: 90, h: 80)   // feature at p in first is at p + (-4, 3)
        let r = try NormXCorr2.matchAround(first: first, templateCentre: (40, 30), templateRadius: 8,
                                           second: second, searchCentre: (41, 31), searchRadius: 14)
        #expect(abs(r.x - 36) < 0.05 && abs(r.y - 33) < 0.05, "\(r.x), \(r.y)")
        #expect(r.match.peak > 0.99)
    }
}

@Suite struct ShiftFieldTests {
    @Test func uniformShiftGivesAUniformField() throws {
        let big = texture(width: 200, height: 180, seed: 51, sigma: 2.5)
        let ref = crop(big, x0: 20, y0: 20, w: 150, h: 130)
        let mov = crop(big, x0: 23, y0: 18, w: 150, h: 130)    // mov(x) = ref(x + (3, -2)): shift to apply = (3, -2)
        let field = try ShiftField.local(reference: ref, moving: mov, window: 24, margin: 6)
        #expect(field.columns == (150 - 36) / 24 + 1 && field.rows == (130 - 36) / 24 + 1)
        for v in field.vectors {
            #expect(abs(v.dx - 3) < 0.1 && abs(v.dy + 2) < 0.1, "\(v)")
        }
        let g = try #require(ShiftField.global(field))
        #expect(abs(g.dx - 3) < 0.01 && abs(g.dy + 2) < 0.01 && g.count == field.vectors.count)
        let map = try ShiftField.correlationMap(reference: ref, moving: mov, margin: 5)
        let best = try #require(map.argmax())
        #expect(best.col + map.originX == -3 && best.row + map.originY == 2)
    }

    @Test func subpixelFieldFromAFourierShift() throws {
        let t = texture(width: 128, height: 128, seed: 6, sigma: 3)
        let mov = fourierShift(t, sx: 1.3, sy: -0.6)          // shift to apply = (-1.3, 0.6)
        let field = try ShiftField.local(reference: t, moving: mov, window: 32, margin: 4, subpixel: .polyFit)
        let g = try #require(ShiftField.global(field, summary: .median))
        #expect(abs(g.dx + 1.3) < 0.1 && abs(g.dy - 0.6) < 0.1, "\(g)")
        let gd = try #require(ShiftField.global(try ShiftField.local(reference: t, moving: mov, window: 32, margin: 4, subpixel: .diff), summary: .mean))
        #expect(abs(gd.dx + 1.3) < 0.1 && abs(gd.dy - 0.6) < 0.1, "\(gd)")
    }

    @Test func badSizesAreErrors() {
        let t = texture(width: 40, height: 40, seed: 6)
        #expect(throws: PeaksError.self) { try ShiftField.local(reference: t, moving: t, window: 40, margin: 5) }
        #expect(throws: PeaksError.self) { try ShiftField.local(reference: t, moving: t, window: 8, margin: 0) }
        #expect(throws: PeaksError.self) { try ShiftField.local(reference: t, moving: Image(width: 3, height: 3), window: 8, margin: 2) }
    }
}

@Suite struct AutocenterTests {
    /// Lattice patterns are point-symmetric about every lattice point; the envelope (beam, radial
    /// fall-off) must decide. Regression: with the background divided out before the search,
    /// these generated diffraction patterns (beam stop masked) were centred 40-80 px off.
    @Test(arguments: [UInt64(1), 2, 3])
    func latticePatternsBehindABeamStop(seed: UInt64) throws {
        let g = try SyntheticGenerator.generate(.symmetric, size: 256, seed: seed, beamStop: true)
        let truth = try #require(g.center)
        let r = try Autocenter.find(g.image, mask: g.mask)
        #expect(abs(r.x - truth.x) < 0.1 && abs(r.y - truth.y) < 0.1,
                "seed \(seed): found (\(r.x), \(r.y)), truth (\(truth.x), \(truth.y))")
    }

    @Test(arguments: [(false, 0.1), (true, 0.1)])
    func subpixelCentreOfSymmetricPatterns(noisy: Bool, bound: Double) throws {
        var worst = 0.0
        for (cx, cy) in [(100.3, 97.8), (90.55, 110.25), (104.9, 101.1)] {
            let img = symmetricPattern(size: 200, cx: cx, cy: cy, noisy: noisy, seed: UInt64(cx * 10))
            let r = try Autocenter.find(img)
            worst = max(worst, abs(r.x - cx), abs(r.y - cy))
            #expect(r.peak > 0.5)
        }
        print("autocenter, symmetric 200x200 (noisy: \(noisy)): worst error \(worst) px")
        #expect(worst < bound, "worst error \(worst) px")
    }

    @Test func bundledLatticeSampleWithABeamStop() throws {
        let s = SampleImages.lattice()
        let r = try Autocenter.find(s.image)
        #expect(abs(r.x - s.center.x) < 0.1 && abs(r.y - s.center.y) < 0.1, "\(r.x), \(r.y) vs \(s.center)")
        // A beam stop: a bar from the edge to the centre, and some dead pixels.
        var mask = Mask(width: 320, height: 320)
        for y in 150...168 { for x in 0...165 { mask[x, y] = false } }
        for k in 0..<40 { mask[(k * 37) % 320, (k * 91) % 320] = false }
        let m = try Autocenter.find(s.image, mask: mask)
        #expect(abs(m.x - s.center.x) < 0.1 && abs(m.y - s.center.y) < 0.1, "masked: \(m.x), \(m.y)")
    }

    @Test func flatImageIsAnError() {
        #expect(throws: PeaksError.self) { try Autocenter.find(Image(width: 20, height: 20, repeating: 1)) }
    }
}

@Suite struct HalfPixelGridComparison {
    /// Without subpixel refinement the inversion lag is whole, so the centre lies on a half-pixel
    /// grid (scikit-ued's behaviour); the fit is what brings the error below 0.1 px.
    @Test func wholeLagCentresAreOnAHalfPixelGrid() throws {
        let (cx, cy) = (100.25, 97.75)
        let img = symmetricPattern(size: 200, cx: cx, cy: cy, noisy: false)
        let whole = try Autocenter.find(img, subpixel: .none)
        let fitted = try Autocenter.find(img, subpixel: .polyFit)
        #expect((whole.x * 2).rounded() == whole.x * 2 && (whole.y * 2).rounded() == whole.y * 2)
        let wholeError = max(abs(whole.x - cx), abs(whole.y - cy)), fitError = max(abs(fitted.x - cx), abs(fitted.y - cy))
        print("autocenter at (100.25, 97.75): whole lag error \(wholeError) px, poly_fit \(fitError) px")
        #expect(wholeError >= 0.2 && fitError < 0.1)
    }
}

@Suite struct Determinism {
    @Test func sameBitsAcrossRunsAndThreadCounts() throws {
        let a = texture(width: 300, height: 280, seed: 61), b = texture(width: 300, height: 280, seed: 62)
        let before = FFTSettings.threadCount
        defer { FFTSettings.threadCount = before }
        var results: [[Double]] = []
        for threads in [1, 2, 1] {
            FFTSettings.threadCount = threads
            let m = try MaskedNCC.correlate(fixed: a, moving: b, mode: .same)
            let p = try PhaseCorrelation.register(reference: a, moving: b, upsample: 50)
            let n = try NormXCorr2.correlate(template: crop(a, x0: 10, y0: 10, w: 40, h: 30), image: b, mode: .valid)
            results.append(m.values + [p.dx, p.dy, p.error ?? 0] + n.values)
        }
        #expect(results[0] == results[1] && results[1] == results[2])
    }
}
