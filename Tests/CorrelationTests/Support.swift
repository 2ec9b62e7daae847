import Foundation
import Filters
import Harness
import PeakKit
import Spectral

/// A smooth random texture: white noise blurred with a Gaussian of `sigma`, scaled to about 0...100.
func texture(width: Int, height: Int, seed: UInt64, sigma: Double = 2) -> Image {
    var rng = SeededRandom(seed: seed)
    let noise = Image(width: width, height: height) { _, _ in Float(rng.uniform()) }
    var t = GaussianFilter.apply(noise, sigma: sigma)
    t.pixels = t.pixels.map { ($0 - 0.5) * 400 + 50 }
    return t
}

func crop(_ image: Image, x0: Int, y0: Int, w: Int, h: Int) -> Image {
    Image(width: w, height: h) { x, y in image[x0 + x, y0 + y] }
}

func randomImage(width: Int, height: Int, rng: inout SeededRandom) -> Image {
    Image(width: width, height: height) { _, _ in Float(rng.uniform(-1, 1)) }
}

/// `image` translated by (sx, sy) pixels with the Fourier shift theorem: out(x) = image(x - s)
/// (circularly), computed with a half spectrum (FFTW r2c / c2r).
func fourierShift(_ image: Image, sx: Double, sy: Double) -> Image {
    let w = image.width, h = image.height
    let plan = FFTPlan2D<Double>(width: w, height: h)
    let x = FFTRealArray<Double>(image.pixels.map(Double.init), width: w, height: h)
    let X = plan.forward(x)
    for v in 0..<h {
        let fv = v <= (h - 1) / 2 ? Double(v) : Double(v - h)
        for u in 0...(w / 2) {
            let a = -2 * Double.pi * (Double(u) * sx / Double(w) + fv * sy / Double(h))
            let (re, im) = X[u, v]
            X[u, v] = (re * cos(a) - im * sin(a), re * sin(a) + im * cos(a))
        }
    }
    let y = plan.inverse(X)
    return Image(width: w, height: h, pixels: y.toArray().map { Float($0) })
}

/// An anti-aliased disc (4 x 4 supersampling) of radius r at (cx, cy), value 1 inside.
func disc(width: Int, height: Int, cx: Double, cy: Double, r: Double) -> Image {
    Image(width: width, height: height) { x, y in
        var inside = 0
        for sy in 0..<4 {
            for sx in 0..<4 {
                let px = Double(x) - 0.375 + 0.25 * Double(sx) - cx, py = Double(y) - 0.375 + 0.25 * Double(sy) - cy
                if px * px + py * py <= r * r { inside += 1 }
            }
        }
        return Float(inside) / 16
    }
}

/// A centrosymmetric diffraction-like pattern centred at (cx, cy): a lattice of Gaussian spots
/// (sigma 1.6) at c +- (i a + j b) with equal intensity for each Friedel pair, a direct beam, a
/// radial background; optionally Poisson noise.
func symmetricPattern(size: Int, cx: Double, cy: Double, noisy: Bool, seed: UInt64 = 7) -> Image {
    var rng = SeededRandom(seed: seed)
    let a = (x: 21.7, y: 4.3), b = (x: -7.9, y: 19.6)
    var spots: [Spot] = []
    for i in -12...12 {
        for j in 0...12 where j > 0 || i > 0 {
            let ox = Double(i) * a.x + Double(j) * b.x, oy = Double(i) * a.y + Double(j) * b.y
            let amp = 800 * exp(-(ox * ox + oy * oy).squareRoot() / 120) * rng.uniform(0.3, 1.5)
            for s in [1.0, -1.0] {
                let x = cx + s * ox, y = cy + s * oy
                if x > 3, y > 3, x < Double(size - 4), y < Double(size - 4) {
                    spots.append(Spot(x: x, y: y, amplitude: amp, sigma: 1.6))
                }
            }
        }
    }
    var image = Image(width: size, height: size) { x, y in
        let dx = Double(x) - cx, dy = Double(y) - cy
        return Float(200 * exp(-(dx * dx + dy * dy).squareRoot() / 50) + 20)
    }
    SpotRenderer.add(spots + [Spot(x: cx, y: cy, amplitude: 5000, sigma: 3)], to: &image)
    if noisy { SpotRenderer.applyPoissonNoise(&image, rng: &rng) }
    return image
}
