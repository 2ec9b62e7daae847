import Filters
import Foundation
import PeakKit
import Spectral

/// What an image's content says about how to find its peaks, measured from the image alone:
/// the characteristic spot scale, whether the content is periodic (a lattice), and the noise of
/// any filtered version of the image at the scale where peaks are decided
/// (docs/algorithms/persistence.md, "Defaults measured from the image").
///
/// - **Lattice**: the autocorrelation of the image high-passed by G(16 px) (by FFT); its
///   strongest local maximum other than lag 0 within a quarter of the image, normalised by lag 0.
///   At >= `periodicThreshold` (0.5) the content is periodic and that lag is a lattice vector L.
///   (Golden/real: 0.54-0.95 on the three STEM lattices, <= 0.09 on every other case.)
/// - **Noise of a filtered image F**: 1.4826 MAD(F) (robust to sparse spots, and measured on F
///   itself, so correlated noise is measured as it is after the filter); for periodic content
///   also the MAD of the second difference along the lattice, F(x) - (F(x - L) + F(x + L)) / 2,
///   divided by sqrt(1.5), which cancels the lattice (and a linear drift along L) and leaves the
///   noise; the smaller of the two. A lattice is not noise.
/// - **Spot scale**: scales s_i = 0.5 x 2^(i/3) px (0.5 to 16 px); scale-normalised responses
///   R_i = G(s_i) * I - G(s_(i+1)) * I (a difference of Gaussians, proportional to
///   -s^2 LoG at s = s_i 2^(1/6), the scale it votes for); the maxima of R over (x, y, scale) in 3x3x3 at interior scales whose response
///   exceeds 5 noise units of R_i (noise as above) each vote for their scale with weight
///   R / noise; the spot scale is the weighted median (Lindeberg's scale selection, pooled over
///   the significant candidates). Golden/real: within 0.7x-1.4x of the truth's fitted sigma on
///   14 of 15 cases (nuclei: 5.0 for 8.5).
public enum ContentScale {
    public struct Result: Sendable, Equatable {
        /// The characteristic spot sigma in px (nil when no significant structure was found).
        public var spotSigma: Double?
        /// A lattice vector (dx, dy) in px when the content is periodic.
        public var lattice: (dx: Int, dy: Int)?
        /// The normalised autocorrelation at the strongest non-zero lag.
        public var periodicity: Double
        public static func == (a: Result, b: Result) -> Bool {
            a.spotSigma == b.spotSigma && a.periodicity == b.periodicity && a.lattice?.dx == b.lattice?.dx && a.lattice?.dy == b.lattice?.dy
        }
    }

    /// What is known about the lattice before the analysis: nothing (measure it), that there is
    /// none, or its vector. As text (a detector setting): `auto`, `none` or `DX,DY` in px.
    public enum LatticeInput: Sendable, Equatable {
        case measured
        case absent
        case given(dx: Int, dy: Int)

        public init?(_ text: String) {
            let t = text.trimmingCharacters(in: .whitespaces).lowercased()
            if t == "auto" { self = .measured; return }
            if t == "none" { self = .absent; return }
            let parts = t.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let dx = Int(parts[0]), let dy = Int(parts[1]),
                  dx != 0 || dy != 0, abs(dx) <= 1_000_000, abs(dy) <= 1_000_000 else { return nil }
            self = .given(dx: dx, dy: dy)
        }

        /// Why `text` is not a lattice (nil when it is one), for the setting's check.
        public static func reason(_ text: String) -> String? {
            LatticeInput(text) == nil ? "'\(text)' is not auto, none or DX,DY (two whole numbers of px, not both 0, e.g. 12,0)" : nil
        }

        /// The text form (`auto`, `none`, `DX,DY`).
        public var text: String {
            switch self {
            case .measured: return "auto"
            case .absent: return "none"
            case .given(let dx, let dy): return "\(dx),\(dy)"
            }
        }
    }

    /// Normalised autocorrelation above which content is treated as periodic.
    public static let periodicThreshold = 0.5
    /// Scales searched: 0.5 x 2^(i/3), i = 0 ..< 16.
    public static let scales: [Double] = (0..<16).map { 0.5 * pow(2, Double($0) / 3) }

    /// Analyses `image` (invalid pixels are filled by normalised convolution first).
    ///
    /// - Parameter known: The lattice if known (then not measured; `periodicity` is reported as
    ///   1 for a given vector and 0 for none).
    public static func analyse(_ image: Image, mask: Mask, lattice known: LatticeInput = .measured) throws -> Result {
        let w = image.width, h = image.height
        guard w >= 8, h >= 8 else { return Result(spotSigma: nil, lattice: nil, periodicity: 0) }
        let allValid = mask.isValid.allSatisfy { $0 }
        let filled = allValid ? image : fill(image, mask: mask)
        let lattice: (dx: Int, dy: Int)?, periodicity: Double
        switch known {
        case .measured: (lattice, periodicity) = try latticeVector(filled)
        case .absent: (lattice, periodicity) = (nil, 0)
        case .given(let dx, let dy): (lattice, periodicity) = ((dx, dy), 1)
        }
        let spot = spotScale(filled, mask: mask, lattice: lattice)
        return Result(spotSigma: spot, lattice: lattice, periodicity: periodicity)
    }

    /// Invalid pixels replaced by the normalised convolution G_4 * (I M) / G_4 * M (or the
    /// median of the valid pixels where that is undefined).
    static func fill(_ image: Image, mask: Mask) -> Image {
        let g = GaussianFilter.apply(image, mask: mask, sigma: 4)
        var vals = (0..<image.count).filter { mask.isValid[$0] }.map { image.pixels[$0] }
        let med: Float = vals.isEmpty ? 0 : Selection.median(&vals)
        var out = image
        for i in 0..<image.count where !mask.isValid[i] {
            out.pixels[i] = g.pixels[i].isFinite ? g.pixels[i] : med
        }
        return out
    }

    static func latticeVector(_ image: Image) throws -> ((dx: Int, dy: Int)?, Double) {
        let w = image.width, h = image.height
        let low = GaussianFilter.apply(image, sigma: 16)
        var a = Image(width: w, height: h)
        var mean = 0.0
        for i in 0..<image.count { a.pixels[i] = image.pixels[i] - low.pixels[i]; mean += Double(a.pixels[i]) }
        mean /= Double(image.count)
        for i in 0..<image.count { a.pixels[i] -= Float(mean) }
        let ac = try FFTConvolution.correlate(a, a, mode: .full)  // lag (0, 0) at (w - 1, h - 1)
        let aw = ac.width, cx = w - 1, cy = h - 1
        let zero = Double(ac[cx, cy])
        guard zero > 0 else { return (nil, 0) }
        let reach = min(w, h) / 4
        var best = -Double.infinity, bx = 0, by = 0
        for dy in -reach...reach {
            for dx in -reach...reach where dx != 0 || dy != 0 {
                guard dx * dx + dy * dy <= reach * reach else { continue }
                let x = cx + dx, y = cy + dy
                let v = ac.pixels[y * aw + x]
                guard Double(v) > best else { continue }
                var isMax = true
                check: for ey in -1...1 { for ex in -1...1 where ex != 0 || ey != 0 {
                    if ac.pixels[(y + ey) * aw + x + ex] > v { isMax = false; break check }
                } }
                if isMax { best = Double(v); bx = dx; by = dy }
            }
        }
        guard best.isFinite else { return (nil, 0) }
        let p = best / zero
        return (p >= periodicThreshold ? (bx, by) : nil, p)
    }

    /// The robust noise of a filtered image F at its own scale: 1.4826 MAD(F) over the valid
    /// pixels, or for periodic content the smaller of that and the MAD of the second difference
    /// along the lattice divided by sqrt(1.5).
    public static func noise(of f: Image, mask: Mask, lattice: (dx: Int, dy: Int)?) -> Double {
        var vals: [Float] = []
        vals.reserveCapacity(f.count)
        let step = max(1, f.count / (1 << 18))
        var c = 0
        for i in 0..<f.count where mask.isValid[i] { c += 1; if c % step == 0 { vals.append(f.pixels[i]) } }
        var n = mad(&vals)
        guard let L = lattice else { return n }
        let w = f.width, h = f.height, ax = abs(L.dx), ay = abs(L.dy)
        guard w > 2 * ax + 1, h > 2 * ay + 1 else { return n }
        var d: [Float] = []
        d.reserveCapacity((w - 2 * ax) * (h - 2 * ay) / step + 1)
        c = 0
        for y in ay..<(h - ay) {
            for x in ax..<(w - ax) {
                let i = y * w + x, p = (y + L.dy) * w + x + L.dx, m = (y - L.dy) * w + x - L.dx
                guard mask.isValid[i], mask.isValid[p], mask.isValid[m] else { continue }
                c += 1
                if c % step == 0 { d.append(f.pixels[i] - (f.pixels[p] + f.pixels[m]) / 2) }
            }
        }
        if d.count >= 64 { n = min(n, mad(&d) / 1.5.squareRoot()) }
        return n
    }

    static func mad(_ v: inout [Float]) -> Double {
        guard !v.isEmpty else { return 0 }
        let med = Selection.median(&v)
        for i in v.indices { v[i] = abs(v[i] - med) }
        return 1.482602218505602 * Double(Selection.median(&v))
    }

    static func spotScale(_ image: Image, mask: Mask, lattice: (dx: Int, dy: Int)?) -> Double? {
        let w = image.width, h = image.height
        // Scales whose Gaussian fits in the image (4 sigma at most the smaller side / 2).
        let usable = scales.filter { 8 * $0 <= Double(min(w, h)) }
        guard usable.count >= 4 else { return nil }
        let blurred = usable.map { GaussianFilter.apply(image, sigma: $0) }
        var responses: [Image] = []
        for i in 0..<(usable.count - 1) {
            var r = Image(width: w, height: h)
            for p in 0..<image.count { r.pixels[p] = blurred[i].pixels[p] - blurred[i + 1].pixels[p] }
            responses.append(r)
        }
        let noise = responses.map { ContentScale.noise(of: $0, mask: mask, lattice: lattice) }
        var votes: [(Double, Double)] = []
        for i in 1..<(responses.count - 1) where noise[i] > 0 {
            let r = responses[i], lo = responses[i - 1], hi = responses[i + 1]
            let limit = Float(5 * noise[i])
            for y in 0..<h {
                for x in 0..<w {
                    let v = r.pixels[y * w + x]
                    guard v > limit, mask.isValid[y * w + x] else { continue }
                    var isMax = true
                    check: for dy in -1...1 {
                        let yy = y + dy
                        guard yy >= 0, yy < h else { continue }
                        for dx in -1...1 {
                            let xx = x + dx
                            guard xx >= 0, xx < w else { continue }
                            let q = yy * w + xx
                            if lo.pixels[q] > v || hi.pixels[q] > v || (q != y * w + x && r.pixels[q] > v) { isMax = false; break check }
                        }
                    }
                    if isMax { votes.append((usable[i] * pow(2, 1.0 / 6), Double(v) / noise[i])) }
                }
            }
        }
        guard !votes.isEmpty else { return nil }
        votes.sort { $0.0 < $1.0 }
        let total = votes.reduce(0) { $0 + $1.1 }
        var acc = 0.0
        for v in votes { acc += v.1; if acc >= total / 2 { return v.0 } }
        return votes.last?.0
    }
}
