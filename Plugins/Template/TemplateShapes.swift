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
import ImageIO
import PeakKit
import Spectral
import Synchronization

/// A zero-mean template on a box of odd or even side, with its origin (the pixel whose position
/// the detector reports) at (`originX`, `originY`) of the box.
struct TemplateBox: Sendable {
    let width: Int
    let height: Int
    let originX: Int
    let originY: Int
    /// Zero-mean values, row-major.
    let values: [Double]
    /// sqrt(sum t^2) of the zero-mean values (for the normalised correlation).
    let norm: Double

    /// Makes the template zero-mean; throws when nothing is left (a constant template).
    init(width: Int, height: Int, originX: Int, originY: Int, raw: [Double], what: String) throws {
        let mean = raw.reduce(0, +) / Double(raw.count)
        let v = raw.map { $0 - mean }
        let energy = v.reduce(0) { $0 + $1 * $1 }
        let scale = raw.reduce(0) { max($0, abs($1)) }
        guard energy.isFinite, energy > 1e-20 * max(1, scale * scale) * Double(raw.count) else {
            throw PeaksError.invalidParameter(name: "template", reason: "\(what) is constant (or all zeros): its zero-mean version is 0 everywhere and matches nothing")
        }
        self.width = width
        self.height = height
        self.originX = originX
        self.originY = originY
        values = v
        norm = energy.squareRoot()
    }
}

/// The built-in shapes and template files.
enum TemplateShapes {
    /// Fraction of the pixel [x - 1/2, x + 1/2] x [y - 1/2, y + 1/2] inside the disc of radius r
    /// about the origin, by 16 x 16 supersampling (exact for pixels wholly inside or outside).
    static func discCoverage(x: Double, y: Double, radius r: Double) -> Double {
        let near = max(0, (x * x + y * y).squareRoot() - 0.7072)
        let far = (x * x + y * y).squareRoot() + 0.7072
        if far <= r { return 1 }
        if near >= r { return 0 }
        let n = 16
        var inside = 0
        let r2 = r * r
        for j in 0..<n {
            let sy = y - 0.5 + (Double(j) + 0.5) / Double(n)
            for i in 0..<n {
                let sx = x - 0.5 + (Double(i) + 0.5) / Double(n)
                if sx * sx + sy * sy <= r2 { inside += 1 }
            }
        }
        return Double(inside) / Double(n * n)
    }

    /// The template box of a built-in shape: side 2 search + 1, origin at the centre.
    static func builtin(_ kind: String, radius: Double, innerRadius: Double, sigma: Double, search: Int) throws -> TemplateBox {
        let side = 2 * search + 1
        var raw = [Double](repeating: 0, count: side * side)
        for y in 0..<side {
            for x in 0..<side {
                let dx = Double(x - search), dy = Double(y - search)
                let v: Double
                switch kind {
                case "disc": v = discCoverage(x: dx, y: dy, radius: radius)
                case "ring": v = discCoverage(x: dx, y: dy, radius: radius) - discCoverage(x: dx, y: dy, radius: innerRadius)
                default: v = exp(-(dx * dx + dy * dy) / (2 * sigma * sigma))
                }
                raw[y * side + x] = v
            }
        }
        return try TemplateBox(width: side, height: side, originX: search, originY: search, raw: raw, what: "the \(kind) template")
    }

    /// A template read from an image file (any format peaks reads; the first frame of a stack).
    /// Its origin is pixel (width / 2, height / 2).
    static func file(_ path: String) throws -> TemplateBox {
        let image = try ImageFile.read(path)
        if let bad = image.firstNonFinitePixel() {
            throw PeaksError.file(path: path, reason: "the template has a NaN or infinite pixel at x=\(bad.x), y=\(bad.y)")
        }
        do {
            return try TemplateBox(width: image.width, height: image.height, originX: image.width / 2, originY: image.height / 2,
                                   raw: image.pixels.map(Double.init), what: "the template file")
        } catch let PeaksError.invalidParameter(_, reason) {
            throw PeaksError.file(path: path, reason: reason)
        }
    }
}

/// What one frame (or crop) shape needs, made once per (template, shape) and shared by every
/// frame and thread: the FFT plan (one thread per transform: the frames of a stack already run
/// on all cores), the template's spectrum placed with its origin at pixel (0, 0) (wrapped), so
/// the correlation's maxima sit where the template's origin matches, and a pool of workspaces
/// (one per thread that has used it), so frames allocate nothing image-sized.
final class PreparedTemplate: Sendable {
    let box: TemplateBox
    let width: Int
    let height: Int
    let plan: FFTPlan2D<Double>
    /// Half spectrum of the wrapped template, interleaved (re, im), conjugated: C = F * this.
    let conjugateSpectrum: [Double]
    /// Idle workspaces of this shape (at most one per thread that ran at the same time).
    private let pool = Mutex<[TemplateWorkspace]>([])

    /// Runs `body` with a workspace of this shape to itself.
    func withWorkspace<R>(_ body: (TemplateWorkspace) -> R) -> R {
        let ws = pool.withLock { $0.popLast() } ?? TemplateWorkspace(width: width, height: height)
        defer { pool.withLock { $0.append(ws) } }
        return body(ws)
    }

    init(box: TemplateBox, width: Int, height: Int) {
        self.box = box
        self.width = width
        self.height = height
        plan = FFTPlan2D<Double>(width: width, height: height, threads: 1)
        let wrapped = FFTRealArray<Double>(width: width, height: height)
        for ty in 0..<box.height {
            let y = ((ty - box.originY) % height + height) % height
            for tx in 0..<box.width {
                let x = ((tx - box.originX) % width + width) % width
                wrapped[x, y] += box.values[ty * box.width + tx]
            }
        }
        let spectrum = plan.forward(wrapped)
        conjugateSpectrum = spectrum.withUnsafeMutableBufferPointer { b in
            (0..<b.count).map { $0 % 2 == 0 ? b[$0] : -b[$0] }
        }
    }

    /// Process-wide cache: key = template description + frame shape.
    private static let cache = Mutex<[String: PreparedTemplate]>([:])
    private static let boxes = Mutex<[String: TemplateBox]>([:])

    /// The template box for these settings (file templates are read once per process).
    static func box(for s: TemplateDetector.Settings) throws -> TemplateBox {
        let key = s.cacheKey
        if let b = boxes.withLock({ $0[key] }) { return b }
        let b: TemplateBox
        switch s.template {
        case "disc", "ring", "gaussian":
            b = try TemplateShapes.builtin(s.template, radius: s.radius, innerRadius: s.resolvedInnerRadius,
                                           sigma: s.resolvedSigma, search: s.resolvedSearch)
        default:
            b = try TemplateShapes.file(s.template)
        }
        boxes.withLock { $0[key] = b }
        return b
    }

    static func prepared(for s: TemplateDetector.Settings, width: Int, height: Int) throws -> PreparedTemplate {
        let key = s.cacheKey + "|\(width)x\(height)"
        if let p = cache.withLock({ $0[key] }) { return p }
        let p = PreparedTemplate(box: try box(for: s), width: width, height: height)
        // Two threads may race to make the same entry; the first stored wins (same values).
        return cache.withLock { c in
            if let q = c[key] { return q }
            c[key] = p
            return p
        }
    }
}
