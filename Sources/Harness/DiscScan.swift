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
import PeakKit
import Spectral

/// The dataset of LiberTEM-blobfinder's "Upsampling-based subpixel refinement" notebook: a scan
/// of `scanHeight x scanWidth` frames of `size x size`, each holding one disc of radius `radius`
/// as blobfinder's `cbed_frame` draws it with lattice vectors larger than the frame (its
/// `radial_bins` anti-aliasing: value min(1, max(0, radius + 1/2 - d)) at distance d from the
/// centre, times 672, the notebook frame's plateau) at (size/2, size/2), moved by a known subpixel shift with the Fourier shift theorem
/// (scipy's `fourier_shift`, then the real part of the inverse transform):
///
///     yd = linspace(-1, 1, scan_height)[scan_y],   xd = linspace(-3, 3, scan_width)[scan_x]
///     shift_y = yd * (-scan_x / scan_width),        shift_x = xd * (scan_y / scan_height)
///
/// so the disc's centre in frame (scan_y, scan_x) is (size/2 + shift_x, size/2 + shift_y).
/// Deterministic (no random numbers); frames are made one at a time.
public struct DiscScan {
    public let size: Int
    public let scanWidth: Int
    public let scanHeight: Int
    public let radius: Double
    public let amplitude = 672.0
    /// Shift ranges of the notebook: y in [-1, 1] px, x in [-3, 3] px.
    public let yRange = (-1.0, 1.0)
    public let xRange = (-3.0, 3.0)

    let plan: FFTPlan2D<Double>
    let base: FFTHalfSpectrum<Double>

    /// - Parameters:
    ///   - size: Frame side (8...4096).
    ///   - scanWidth, scanHeight: The scan (blobfinder's notebook: 45 x 12).
    ///   - radius: Disc radius in pixels (notebook: 6).
    public init(size: Int = 64, scanWidth: Int = 45, scanHeight: Int = 12, radius: Double = 6) throws {
        guard size >= 8, size <= 4096 else { throw PeaksError.invalidParameter(name: "size", reason: "must be in 8...4096, got \(size)") }
        guard scanWidth >= 1, scanHeight >= 1, scanWidth <= 100_000, scanHeight <= 100_000 else {
            throw PeaksError.invalidParameter(name: "scan", reason: "scan sides must be in 1...100000")
        }
        guard radius > 0, radius * 2 + 8 <= Double(size) else {
            throw PeaksError.invalidParameter(name: "radius", reason: "must be positive and leave room in a \(size)x\(size) frame, got \(radius)")
        }
        self.size = size
        self.scanWidth = scanWidth
        self.scanHeight = scanHeight
        self.radius = radius
        plan = FFTPlan2D<Double>(width: size, height: size, threads: 1)
        let disc = FFTRealArray<Double>(width: size, height: size)
        let c = Double(size / 2)
        for y in 0..<size {
            for x in 0..<size {
                disc[x, y] = amplitude * Self.coverage(x: Double(x) - c, y: Double(y) - c, radius: radius)
            }
        }
        base = plan.forward(disc)
    }

    /// blobfinder's anti-aliased disc profile (`radial_bins` with one bin): 1 inside, a linear
    /// ramp from 1 at radius - 1/2 to 0 at radius + 1/2.
    static func coverage(x: Double, y: Double, radius r: Double) -> Double {
        let d = (x * x + y * y).squareRoot()
        return min(1, max(0, r + 0.5 - d))
    }

    public var frameCount: Int { scanWidth * scanHeight }

    /// numpy's linspace(a, b, n)[i].
    static func linspace(_ a: Double, _ b: Double, _ n: Int, _ i: Int) -> Double {
        n == 1 ? a : a + (b - a) * Double(i) / Double(n - 1)
    }

    /// The known shift (dx, dy) of frame (scanY, scanX), in pixels.
    public func shift(scanY: Int, scanX: Int) -> (dx: Double, dy: Double) {
        let yd = Self.linspace(yRange.0, yRange.1, scanHeight, scanY)
        let xd = Self.linspace(xRange.0, xRange.1, scanWidth, scanX)
        let dy = yd * (-Double(scanX) / Double(scanWidth))
        let dx = xd * (Double(scanY) / Double(scanHeight))
        return (dx == 0 ? 0 : dx, dy == 0 ? 0 : dy)
    }

    /// The disc's true centre (x, y) in frame `index` (= scan_y * scanWidth + scan_x).
    public func centre(ofFrame index: Int) -> (x: Double, y: Double) {
        let s = shift(scanY: index / scanWidth, scanX: index % scanWidth)
        return (Double(size / 2) + s.dx, Double(size / 2) + s.dy)
    }

    /// Frame `index` as Float pixels: Re(IDFT(DFT(disc) exp(-2 pi i (f_x dx + f_y dy)))) with
    /// numpy's frequencies; at a Nyquist frequency the real part of the transform keeps
    /// cos(pi d), which the half-spectrum transform applies directly.
    public func frame(_ index: Int) -> [Float] {
        let n = size, sw = n / 2 + 1
        let s = shift(scanY: index / scanWidth, scanX: index % scanWidth)
        func ramp(_ k: Int, _ d: Double) -> (Double, Double) {
            if n % 2 == 0 && k == n / 2 { return (cos(Double.pi * d), 0) }
            let f = k <= (n - 1) / 2 ? Double(k) : Double(k - n)
            let a = -2 * Double.pi * f * d / Double(n)
            return (cos(a), sin(a))
        }
        let rx = (0..<sw).map { ramp($0, s.dx) }
        let ry = (0..<n).map { ramp($0, s.dy) }
        let spec = FFTHalfSpectrum<Double>(uninitializedWidth: n, height: n)
        base.withUnsafeMutableBufferPointer { b in
            spec.withUnsafeMutableBufferPointer { o in
                for v in 0..<n {
                    for u in 0..<sw {
                        let (ar, ai) = ry[v], (br, bi) = rx[u]
                        let pr = ar * br - ai * bi, pi = ar * bi + ai * br
                        let k = 2 * (v * sw + u)
                        o[k] = b[k] * pr - b[k + 1] * pi
                        o[k + 1] = b[k] * pi + b[k + 1] * pr
                    }
                }
            }
        }
        let out = plan.inverse(spec)
        return out.toArray().map { Float($0) }
    }
}
