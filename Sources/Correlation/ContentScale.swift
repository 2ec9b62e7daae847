import Filters
import _PeaksVectorKernels
import Dispatch
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

/// What an image's content says about how to find its peaks, measured from the image alone:
/// the characteristic spot scale, whether the content is periodic (a lattice), and the noise of
/// any filtered version of the image at the scale where peaks are decided
/// (docs/algorithms/persistence.md, "Defaults measured from the image").
///
/// - **Lattice**: the autocorrelation of the image high-passed by G(16 px) (that blur computed
///   every 4th pixel and interpolated; by FFT); its
///   strongest local maximum other than lag 0 within a quarter of the image, normalised by lag 0.
///   At >= `periodicThreshold` (0.25) the content is periodic and that lag is a lattice vector L.
///   (The autocorrelation is symmetric, so L and -L tie: the one met first in raster order of the
///   lags is reported, dy < 0, or dy = 0 and dx < 0; either serves the noise estimate alike.)
///   (Golden/real: 0.54-0.95 on the three STEM lattices, <= 0.09 on every other case; outside
///   it 0.48 on a strip of the MoS2 image, up to 0.20 on Laue crops and 0.47 on dense nuclei.)
/// - **Noise of a filtered image F**: 1.4826 MAD(F) (robust to sparse spots, and measured on F
///   itself, so correlated noise is measured as it is after the filter); for periodic content
///   also the MAD of the second difference along the lattice, F(x) - (F(x - L) + F(x + L)) / 2,
///   divided by sqrt(1.5), which cancels the lattice (and a linear drift along L) and leaves the
///   noise; the smaller of the two. A lattice is not noise.
/// - **Spot scale**: scales s_i = 0.5 x 2^(i/3) px (0.4 to 16 px); scale-normalised responses
///   R_i = G(s_i) * I - G(s_(i+1)) * I (a difference of Gaussians, proportional to
///   -s^2 LoG at s = s_i 2^(1/6), the scale it votes for); the maxima of R over (x, y, scale) in
///   3x3x3 at interior scales (0.5 px and up) whose response exceeds 5 noise units of R_i (20
///   at 0.5 px, `voteLimit`; noise as above, from at most 65,536 evenly strided pixels,
///   where the MAD's relative standard error is about 0.5%) each vote for their scale with weight
///   R / noise; the spot scale is the weighted median (Lindeberg's scale selection, pooled over
///   the significant candidates). Scales >= 4 px are computed on a Gaussian pyramid (2x, and
///   4x from 8 px; `octaveFactors`), where they are >= 2 px wide: the same spot sigma on every
///   Golden/real case at 1.3-4x less time. The finest octave's blurs from 2 px on are each made
///   from the one before (G(sqrt(s_j^2 - s_(j-1)^2)), an increment of at least 1 px; `blurChain`):
///   139 instead of 191 taps, within 2e-4 of the range of the direct blurs (not the same bits:
///   a vote at the edge of the 5-noise limit or a near-tie of the weighted median could go the
///   other way), and the same votes on every Golden/real case. Golden/real: within 0.7x-1.4x of the truth's fitted sigma on
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
            let t = text.trimmingWhitespace().lowercased()
            if t == "auto" { self = .measured; return }
            if t == "none" { self = .absent; return }
            let parts = t.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
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

    /// Normalised autocorrelation above which content is treated as periodic. 0.25 (0.5 until
    /// session 7): periodicity p is about the lattice's share of the high-passed variance, and
    /// a 256 x 512 strip of the MoS2 image (outside the corpus) measured 0.48, so at 0.5 its
    /// noise was the lattice's contrast and 1 of 260 columns was found (0.76 F1 at 0.25). A lag
    /// taken for a lattice wrongly costs little: the lattice-aware noise is the smaller of the
    /// MAD and the second difference along it, which is below the MAD by more than ~20% only
    /// where the content is strongly correlated at that lag. Non-lattices measured <= 0.09 on
    /// the corpus, <= 0.20 on the other Laue crops; dense nuclei (DSB2018) up to 0.47, where
    /// treating the packing as a lattice raised F1 on the 3 images it changed.
    public static let periodicThreshold = 0.25
    /// Scales searched: 0.5 x 2^(i/3), i = -1 ..< 16. The first, 0.4 px, only bounds the
    /// scale-space maxima at 0.5 px from below (a maximum needs a scale on each side): without it
    /// a spot sharper than about 0.6 px, whose response falls from the finest scale on, has no
    /// maximum and does not vote at all (session 22: the Laue spots, sigma 0.5-0.7 px).
    public static let scales: [Double] = (-1..<16).map { 0.5 * pow(2, Double($0) / 3) }

    /// Noise units a scale-space maximum must exceed to vote: 5, and 20 at the finest voting
    /// scale (0.5 px). The pixel-scale response inherits the tails of the pixel noise, which are
    /// not Gaussian in real data (the skew of low counts, hot pixels, a scanned plate's grain,
    /// 8-bit exports stretched in contrast); coarser responses average enough pixels to be
    /// nearly Gaussian. Measured at 0.5 px on Golden/real: the 90th percentile of the maxima is
    /// 6-18 units on the cases without sharp spots, 430-780 on the Laue cases the level exists
    /// for. On the 539 DSB2018 nuclei images (8-bit exports) the spot scale fell to 0.56 px on
    /// 137 at a limit of 5 (mean F1 0.607 -> 0.541), 21 at 10 (0.587), 11 at 15 (0.604), 6 at
    /// 20 and none at 30 (0.607 both; docs/algorithms/persistence.md, "Spot scale").
    static func voteLimit(scale s: Double) -> Double { s < scales[2] ? 20 : 5 }

    /// Analyses `image` (invalid pixels are filled by normalised convolution first).
    ///
    /// - Parameter known: The lattice if known (then not measured; `periodicity` is reported as
    ///   1 for a given vector and 0 for none).
    /// - Parameter noiseMask: Where the response noises are measured (default:
    ///   `NoiseEstimate.measurable(mask, in: image)`).
    /// - Parameter spotScale: false when the caller has its scale already (`--spot-size`, a
    ///   given `smooth`): then only the lattice is measured (`spotSigma` is nil), the same vector
    ///   and periodicity as with the scale, without the scale-space responses (about 60% of the
    ///   analysis' CPU time at 512^2).
    public static func analyse(_ image: Image, mask: Mask, lattice known: LatticeInput = .measured, noiseMask given: Mask? = nil, spotScale measureScale: Bool = true) throws -> Result {
        let w = image.width, h = image.height
        guard w >= 8, h >= 8 else { return Result(spotSigma: nil, lattice: nil, periodicity: 0) }
        guard measureScale else {
            switch known {
            case .measured:
                let (vector, periodicity) = try lattice(of: image, mask: mask)
                return Result(spotSigma: nil, lattice: vector, periodicity: periodicity)
            case .absent: return Result(spotSigma: nil, lattice: nil, periodicity: 0)
            case .given(let dx, let dy): return Result(spotSigma: nil, lattice: (dx, dy), periodicity: 1)
            }
        }
        let filled = mask.isEverywhereValid ? image : fill(image, mask: mask)
        // The response noises are measured where the image is not exactly constant (dead
        // detector areas are not noise samples: NoiseEstimate.measurable).
        let noiseMask = given ?? NoiseEstimate.measurable(mask, in: image)
        var lattice: (dx: Int, dy: Int)?, periodicity = 0.0
        let space: ScaleSpace?
        switch known {
        case .measured:
            // The lattice search is one more job beside the scale-space's own (which do not
            // depend on the lattice: the blurs, the responses' plain MAD noises and the votes at
            // them), all spread over the cores together.
            var failure: Error?
            let search = { do { (lattice, periodicity) = try latticeVector(filled) } catch { failure = error } }
            space = scaleSpace(filled, mask: mask, noiseMask: noiseMask, alongside: [search])
            if let failure { throw failure }
        case .absent: space = scaleSpace(filled, mask: mask, noiseMask: noiseMask)
        case .given(let dx, let dy): (lattice, periodicity) = ((dx, dy), 1); space = scaleSpace(filled, mask: mask, noiseMask: noiseMask)
        }
        let spot = space.flatMap { spotScale($0, lattice: lattice) }
        return Result(spotSigma: spot, lattice: lattice, periodicity: periodicity)
    }

    /// The lattice alone (the `lattice` of `analyse`, without the spot scale): a lattice vector
    /// when the content is periodic, and the normalised autocorrelation at the strongest lag.
    public static func lattice(of image: Image, mask: Mask) throws -> (vector: (dx: Int, dy: Int)?, periodicity: Double) {
        guard image.width >= 8, image.height >= 8 else { return (nil, 0) }
        let filled = mask.isEverywhereValid ? image : fill(image, mask: mask)
        let (vector, periodicity) = try latticeVector(filled)
        return (vector, periodicity)
    }

    /// The lattice of a stack from the vectors found on its sample frames (nil where none was):
    /// `none` unless more than half of the samples found one; else the vector found most often,
    /// counting v and -v as one (a lattice vector's sign is arbitrary) and written with dx > 0 or
    /// dx = 0 and dy > 0, ties to the first in text order. Any vector of the lattice serves the
    /// noise estimate, so samples that found different vectors of one lattice (12,0 and 0,12 on
    /// a square one) still count as periodic.
    public static func stackLattice(_ found: [(dx: Int, dy: Int)?]) -> String {
        let vectors = found.compactMap { $0 }
        guard 2 * vectors.count > found.count else { return "none" }
        var votes: [String: Int] = [:]
        for v in vectors {
            let c = v.dx > 0 || (v.dx == 0 && v.dy > 0) ? v : (dx: -v.dx, dy: -v.dy)
            votes["\(c.dx),\(c.dy)", default: 0] += 1
        }
        return votes.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.first?.key ?? "none"
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

    /// Starts, on another thread, the planning of the lattice search's Fourier transforms for a
    /// `width x height` image (FFTW's planner start and the plans, about 4 ms at 512^2 and a
    /// quarter of the lattice search), so that it overlaps the caller's work before `analyse`
    /// (reading, dead areas, the counting test). The plans are cached; the search waits for
    /// them if it starts first, and finds the same plans it would have made.
    public static func planLatticeSearchInBackground(width: Int, height: Int) {
        guard width >= 8, height >= 8 else { return }
        let reach = latticeReach(width: width, height: height)
        DispatchQueue.global().async {
            FFTConvolution.planAutocorrelation(width: width, height: height, maxLag: (reach + 1, reach + 1))
        }
    }

    /// The lags the lattice search looks at: up to a quarter of the image (its autocorrelation
    /// reaches one lag further, for the 3x3 maximum test at the edge).
    static func latticeReach(width: Int, height: Int) -> Int { min(width, height) / 4 }

    static func latticeVector(_ image: Image) throws -> ((dx: Int, dy: Int)?, Double) {
        let w = image.width, h = image.height
        let a = highPass(image, sigma: 16, step: 4)
        let reach = latticeReach(width: w, height: h)
        let ac = try FFTConvolution.autocorrelation(a, maxLag: (reach + 1, reach + 1))  // lag (0, 0) at the centre
        let aw = ac.width, cx = ac.width / 2, cy = ac.height / 2
        let zero = Double(ac[cx, cy])
        guard zero > 0 else { return (nil, 0) }
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

    /// Where pixel i falls between the samples taken every `step` pixels (`count` of them): the
    /// samples before and after it (the last one twice beyond the end) and the weight of the
    /// second.
    @inline(__always)
    static func coarseNeighbours(_ i: Int, step: Int, count: Int) -> (Int, Int, Float) {
        let f = Double(i) / Double(step)
        let i0 = min(Int(f), count - 1)
        return (i0, min(i0 + 1, count - 1), Float(f - Double(i0)))
    }

    /// The image less its smooth background and less the mean of the difference:
    /// a = I - B - mean(I - B), with B = G(sigma) * I computed every `step` pixels
    /// (`GaussianFilter.applySampled`, bit for bit the full filter there) and interpolated
    /// bilinearly in between. For sigma >= 4 step the interpolation error is about 1e-3 of the
    /// image's range (the blur has no detail at the scale of the step), at about 1 / step of the
    /// cost. The coarse rows are interpolated along x once each; an image row is then a blend of
    /// two of them, and its difference and its share of the mean come in the same pass. (A
    /// pyramid level, G(step / 2) sampled then G(sqrt(sigma^2 - (step / 2)^2) / step), would be a
    /// quarter of the multiply-adds, but its border is reflected on the coarse grid, 1.5 px off
    /// the image's own: 2% of the range at the edges against 0.3% here, so it is not used.)
    static func highPass(_ image: Image, sigma: Double, step: Int) -> Image {
        let w = image.width, h = image.height
        let coarse = GaussianFilter.applySampled(image, mask: Mask(width: w, height: h), sigma: sigma, step: step)
        let cw = coarse.width, ch = coarse.height
        // Every coarse row interpolated along x: rows[r * w + x].
        var rows = [Float](repeating: 0, count: ch * w)
        coarse.pixels.withUnsafeBufferPointer { c in
            rows.withUnsafeMutableBufferPointer { out in
                for x in 0..<w {
                    let (x0, x1, tx) = coarseNeighbours(x, step: step, count: cw)
                    for r in 0..<ch { out[r * w + x] = c[r * cw + x0] * (1 - tx) + c[r * cw + x1] * tx }
                }
            }
        }
        var total = 0.0
        var pixels = [Float](unsafeUninitializedCapacity: w * h) { out, count in
            count = w * h
            image.pixels.withUnsafeBufferPointer { px in
                rows.withUnsafeBufferPointer { rw in
                    for y in 0..<h {
                        let (y0, y1, ty) = coarseNeighbours(y, step: step, count: ch)
                        let a = rw.baseAddress! + y0 * w, b = rw.baseAddress! + y1 * w
                        let p = px.baseAddress! + y * w, o = out.baseAddress! + y * w
                        for x in 0..<w { o[x] = p[x] - (a[x] * (1 - ty) + b[x] * ty) }
                        // One sum in raster order, as before (another order could change the
                        // mean's last bit, hence every value of a).
                        for x in 0..<w { total += Double(o[x]) }
                    }
                }
            }
        }
        let offset = Float(total / Double(image.count))
        pixels.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] -= offset } }
        return Image(width: w, height: h, pixels: pixels)
    }

    /// The robust noise of a filtered image F at its own scale: 1.4826 MAD(F) over the valid
    /// pixels, or for periodic content the smaller of that and the MAD of the second difference
    /// along the lattice divided by sqrt(1.5).
    public static func noise(of f: Image, mask: Mask, lattice: (dx: Int, dy: Int)?, samples: Int = 1 << 18) -> Double {
        let n = madNoise(of: f, mask: mask, samples: samples)
        guard let L = lattice, let d = latticeNoise(of: f, mask: mask, lattice: L, samples: samples) else { return n }
        return min(n, d)
    }

    /// The stride of `madNoise`'s samples.
    static func madNoiseStep(count: Int, samples: Int) -> Int { max(1, count / samples) }

    /// The first half of `noise(of:mask:lattice:samples:)`: 1.4826 MAD(F) over every step-th
    /// valid pixel, step = max(1, count / samples).
    static func madNoise(of f: Image, mask: Mask, samples: Int) -> Double {
        var vals: [Float] = []
        let step = madNoiseStep(count: f.count, samples: samples)
        vals.reserveCapacity(f.count / step + 1)
        // Every step-th valid pixel (the step-th, the 2 step-th, ...): a countdown instead of a
        // division per pixel.
        f.pixels.withUnsafeBufferPointer { px in
            mask.isValid.withUnsafeBufferPointer { valid in
                if px.count > 0, mask.isEverywhereValid {
                    // Every pixel valid: the step-th, the 2 step-th, ... pixel, without the count.
                    var i = step - 1
                    while i < px.count { vals.append(px[i]); i += step }
                    return
                }
                var left = step
                for i in 0..<px.count where valid[i] {
                    left -= 1
                    if left == 0 { vals.append(px[i]); left = step }
                }
            }
        }
        return Selection.normalMAD(&vals)
    }

    /// The second half: the MAD of F(x) - (F(x - L) + F(x + L)) / 2 over every step-th pixel
    /// where all three are valid, divided by sqrt(1.5); nil when the lattice does not fit or
    /// fewer than 64 differences are taken.
    static func latticeNoise(of f: Image, mask: Mask, lattice L: (dx: Int, dy: Int), samples: Int) -> Double? {
        let step = max(1, f.count / samples)
        let w = f.width, h = f.height, ax = abs(L.dx), ay = abs(L.dy)
        guard w > 2 * ax + 1, h > 2 * ay + 1 else { return nil }
        var d: [Float] = []
        d.reserveCapacity((w - 2 * ax) * (h - 2 * ay) / step + 1)
        f.pixels.withUnsafeBufferPointer { px in
            mask.isValid.withUnsafeBufferPointer { valid in
                if mask.isEverywhereValid {
                    // Every pixel valid: the step-th, 2 step-th, ... pixel of the region in raster
                    // order, without visiting the others.
                    let rw = w - 2 * ax
                    var x = step - 1, y = ay
                    while x >= rw { x -= rw; y += 1 }
                    while y < h - ay {
                        let i = y * w + ax + x, p = i + L.dy * w + L.dx, m = i - L.dy * w - L.dx
                        d.append(px[i] - (px[p] + px[m]) / 2)
                        x += step
                        while x >= rw { x -= rw; y += 1 }
                    }
                    return
                }
                var left = step
                for y in ay..<(h - ay) {
                    for x in ax..<(w - ax) {
                        let i = y * w + x, p = (y + L.dy) * w + x + L.dx, m = (y - L.dy) * w + x - L.dx
                        guard valid[i], valid[p], valid[m] else { continue }
                        left -= 1
                        if left == 0 { d.append(px[i] - (px[p] + px[m]) / 2); left = step }
                    }
                }
            }
        }
        guard d.count >= 64 else { return nil }
        return Selection.normalMAD(&d) / 1.5.squareRoot()
    }

    /// The decimation of each octave: scales of at least 2 f px (f = 2, 4) are computed on the
    /// image blurred by G(f / 2) and sampled every f pixels (a Gaussian pyramid), where they are
    /// at least 2 px wide: G(s) * I at full resolution, sampled, is G(sqrt(s^2 - (f/2)^2) / f)
    /// applied to that image, and the error of the sampling is below 1e-3 of the response for
    /// sigma >= 1.5 px at the coarse level. The maxima are looked for at the coarse level; the
    /// votes (scale, response / noise) do not depend on the pixel grid.
    static let octaveFactors = [1, 2, 4]

    /// The octave (index into `octaveFactors`) whose grid computes scale `s`: the coarsest f with
    /// s >= 2 f (f = 1 below 4 px).
    static func octave(of s: Double) -> Int {
        var o = 0
        for (k, f) in octaveFactors.enumerated() where s >= 2 * Double(f) - 1e-9 { o = k }
        return o
    }

    /// The scale-space responses of one octave and what is measured on them before the lattice
    /// is known: `responses[k]` is response `members.first! - 1 + k` on the octave's grid
    /// (every f-th pixel); `madNoise[m]` and `madVotes[m]`: the plain MAD noise of voting scale
    /// `members[m]` (response k = m + 1) and its votes at that noise.
    struct OctaveResponses {
        let factor: Int
        let members: [Int]
        let gridMask: Mask
        /// Where the response noise is measured (the grid's share of `NoiseEstimate.measurable`).
        let noiseMask: Mask
        let responses: [Image]
        let madNoise: [Double]
        let madVotes: [[(Double, Double)]]
    }

    /// What the spot scale needs that does not depend on the lattice.
    struct ScaleSpace {
        let usable: [Double]
        let octaves: [OctaveResponses]
    }

    /// The responses R_i of every octave, their MAD noises and the votes at those noises: all
    /// that does not depend on the lattice.
    ///
    /// The work is three rounds of independent jobs, each round one `Parallel.forEach` (a nested
    /// one would run serially: libdispatch gives an apply inside a 2-way apply one thread), so
    /// the cores take the jobs as they free up: (1) `alongside` (the lattice search, when it is
    /// measured), the pyramid grids and the blurs of the finest octave; (2) the noise and votes
    /// of the finest octave's scales and the blurs of the coarser octaves; (3) the noise and
    /// votes of the coarser octaves' scales. Each job computes what it would alone, so the
    /// result does not depend on the cores or the order.
    static func scaleSpace(_ image: Image, mask: Mask, noiseMask: Mask, alongside: [() -> Void] = []) -> ScaleSpace? {
        let w = image.width, h = image.height
        // Scales whose Gaussian fits in the image (4 sigma at most the smaller side / 2).
        let usable = scales.filter { 8 * $0 <= Double(min(w, h)) }
        guard usable.count >= 4 else { for job in alongside { job() }; return nil }
        // Interior scales 1 ... count - 3 vote (each needs responses i - 1, i, i + 1, and
        // response j needs blurs j and j + 1). Group them by octave.
        let voting = Array(1..<(usable.count - 2))
        var plans: [(factor: Int, members: [Int])] = []
        for (o, f) in octaveFactors.enumerated() {
            let members = voting.filter { octave(of: usable[$0]) == o }
            if !members.isEmpty { plans.append((f, members)) }
        }
        let count = plans.count
        // Per octave: its grid (G(f/2) * I sampled every f pixels; f = 1: the image), its blurs
        // j = first - 1 ... last + 2, then its responses over them, their noises and votes.
        // One flat array of each, octave o's blurs from blurStart[o] (members + 3 of them; the
        // first members + 2 become its responses), its noises and votes from voteStart[o]: the
        // jobs write disjoint elements of them.
        var blurStart: [Int] = [], voteStart: [Int] = [], blurCount = 0, voteCount = 0
        for p in plans {
            blurStart.append(blurCount); blurCount += p.members.count + 3
            voteStart.append(voteCount); voteCount += p.members.count
        }
        var grids = [Image?](repeating: nil, count: count)
        var blurs = [Image?](repeating: nil, count: blurCount)
        var noises = [Double](repeating: 0, count: voteCount)
        var found = [[(Double, Double)]](repeating: [], count: noises.count)
        var gridMasks: [(grid: Mask, noise: Mask)] = []

        func makeGrid(_ o: Int) -> Image {
            let f = plans[o].factor
            return f == 1 ? image : GaussianFilter.applySampled(image, mask: Mask(width: w, height: h), sigma: Double(f) / 2, step: f)
        }
        func blur(_ o: Int, _ b: Int, of grid: Image) -> Image {
            let f = plans[o].factor, j = plans[o].members[0] - 1 + b
            let pre = f == 1 ? 0.0 : Double(f) / 2
            return GaussianFilter.apply(grid, sigma: (usable[j] * usable[j] - pre * pre).squareRoot() / Double(f))
        }
        // The voting responses' noise samples (madNoise's strided pixels, when its mask is the
        // whole grid), kept by `respond` as it writes them (slot = blur slot; nil: sample later).
        var noiseSamples = [[Float]?](repeating: nil, count: blurCount)
        // Response j (blur b - blur b + 1) written over blur b, in order, so that blur b + 1 is
        // read before it is itself overwritten (no new memory). Each subtraction, a pass bound by
        // memory traffic, is cut into bands over the cores (Image.subtract).
        func respond(_ o: Int) {
            let start = blurStart[o], end = start + plans[o].members.count + 2
            let keep = gridMasks[o].noise.isEverywhereValid
            for b in start..<end {
                let next = blurs[b + 1]!
                let k = b - start
                if keep, k >= 1, k <= plans[o].members.count {
                    noiseSamples[b] = blurs[b]!.subtract(next, keepingEvery: madNoiseStep(count: next.count, samples: 1 << 16))
                } else {
                    blurs[b]!.subtract(next)
                }
            }
            blurs[end] = nil  // the last blur is no response
        }
        // The finest octave's blurs from `cascadeFrom` on are made each from the one before, by
        // the increment G(sqrt(s_j^2 - s_(j-1)^2)) (a Gaussian of a Gaussian is the Gaussian of
        // the summed variances), where that increment is at least 1 px: a sampled Gaussian that
        // wide has its variance to ~1e-6 and the kernels are 60% as long as G(s_j) itself.
        // Below 1 px the sampled kernel's variance drifts from sigma^2 (0.38 px for 0.63 after
        // 0.5), so the small blurs stay direct. One job makes the chain, the others the rest.
        let cascadeFrom = cascadeStart(usable, first: plans[0].members[0] - 1, count: plans[0].members.count + 3)
        enum Job { case alongside(Int), grid(Int), blur(Int, Int), chain(Int, Int), vote(Int, Int) }
        // Runs `jobs`, each writing only its own slot.
        func run(_ jobs: [Job]) {
            grids.withUnsafeMutableBufferPointer { gb in
            blurs.withUnsafeMutableBufferPointer { bb in
            noises.withUnsafeMutableBufferPointer { nb in
            found.withUnsafeMutableBufferPointer { fb in
                let g = SharedPointer(gb.baseAddress!), bl = SharedPointer(bb.baseAddress!)
                let ns = SharedPointer(nb.baseAddress!), fo = SharedPointer(fb.baseAddress!)
                Parallel.forEach(jobs.count) { n in
                    switch jobs[n] {
                    case .alongside(let a): alongside[a]()
                    case .grid(let o): g[o] = makeGrid(o)
                    case .blur(let o, let b): bl[blurStart[o] + b] = blur(o, b, of: g[o]!)
                    case .chain(let o, let from):
                        // Blur from - 1 directly, then each from the one before.
                        let first = plans[o].members[0] - 1, f = Double(plans[o].factor)
                        let start = blur(o, from - 1, of: g[o]!)
                        bl[blurStart[o] + from - 1] = start
                        let chained = blurChain(start, from: usable[first + from - 1] / f,
                                                through: (from..<(plans[o].members.count + 3)).map { usable[first + $0] / f })
                        for (n, b) in chained.enumerated() { bl[blurStart[o] + from + n] = b }
                    case .vote(let o, let m):
                        // Scale i = members[m] is response k = m + 1 of the octave.
                        let k = m + 1, i = plans[o].members[m]
                        let responses = (0..<(plans[o].members.count + 2)).map { bl[blurStart[o] + $0]! }
                        let slot = blurStart[o] + k
                        let noise = noiseSamples[slot].map { samples in
                            var values = samples
                            return Selection.normalMAD(&values)
                        } ?? madNoise(of: responses[k], mask: gridMasks[o].noise, samples: 1 << 16)
                        ns[voteStart[o] + m] = noise
                        fo[voteStart[o] + m] = ContentScale.votes(scale: usable[i], factor: plans[o].factor, responses: responses, k, mask: gridMasks[o].grid, noise: noise)
                    }
                }
            }
            }
            }
            }
        }
        // Octave 0 is the image itself (f = 1): scale 1 (0.63 px) always votes there.
        precondition(plans[0].factor == 1, "ContentScale: the finest octave is the image")
        grids[0] = image
        // Round 1: the lattice search, the coarser grids, the finest octave's blurs.
        let coarser = 1..<count
        let first: [Job] = alongside.indices.map { .alongside($0) } + coarser.map { .grid($0) }
            + (cascadeFrom.map { [.chain(0, $0)] + (0..<($0 - 1)).map { .blur(0, $0) } }
               ?? (0..<(plans[0].members.count + 3)).map { .blur(0, $0) })
        run(first)
        for o in 0..<count {
            let f = plans[o].factor, grid = grids[o]!
            func sampled(_ m: Mask) -> Mask {
                if f == 1 { return m }
                var valid = [Bool](repeating: true, count: grid.count)
                for y in 0..<grid.height { for x in 0..<grid.width { valid[y * grid.width + x] = m.isValid[(y * f) * w + x * f] } }
                return Mask(width: grid.width, height: grid.height, isValid: valid)
            }
            let gridMask = sampled(mask)
            gridMasks.append((gridMask, noiseMask == mask ? gridMask : sampled(noiseMask)))
        }
        // Round 2: the finest octave's votes, the coarser octaves' blurs.
        respond(0)
        run(plans[0].members.indices.map { .vote(0, $0) }
            + coarser.flatMap { o in (0..<(plans[o].members.count + 3)).map { Job.blur(o, $0) } })
        // Round 3: the coarser octaves' votes.
        for o in coarser { respond(o) }
        run(coarser.flatMap { o in plans[o].members.indices.map { Job.vote(o, $0) } })
        let octaves = (0..<count).map { o in
            let n = plans[o].members.count
            return OctaveResponses(factor: plans[o].factor, members: plans[o].members, gridMask: gridMasks[o].grid, noiseMask: gridMasks[o].noise,
                                   responses: (0..<(n + 2)).map { blurs[blurStart[o] + $0]! },
                                   madNoise: Array(noises[voteStart[o]..<(voteStart[o] + n)]),
                                   madVotes: Array(found[voteStart[o]..<(voteStart[o] + n)]))
        }
        return ScaleSpace(usable: usable, octaves: octaves)
    }

    /// The first of the `count` blurs of scales usable[first ..< first + count] that is made from
    /// the one before (the increment sqrt(s_b^2 - s_(b-1)^2) at least 1 px, as it is for every
    /// later one: the scales grow geometrically), or nil when none is. Blur 0 is always direct.
    static func cascadeStart(_ usable: [Double], first: Int, count: Int) -> Int? {
        guard count >= 2 else { return nil }
        for b in 1..<count {
            let s0 = usable[first + b - 1], s1 = usable[first + b]
            if (s1 * s1 - s0 * s0).squareRoot() >= 1 { return b }
        }
        return nil
    }

    /// G(s) * I for every s of `scales` (increasing), given `start` = G(s0) * I: each from the one
    /// before by the increment G(sqrt(s^2 - s_prev^2)).
    static func blurChain(_ start: Image, from s0: Double, through scales: [Double]) -> [Image] {
        var previous = start, last = s0
        return scales.map { s in
            precondition(s > last, "ContentScale.blurChain: scales must increase (\(s) after \(last))")
            previous = GaussianFilter.apply(previous, sigma: (s * s - last * last).squareRoot())
            last = s
            return previous
        }
    }

    /// The votes of response k's scale-space maxima (3x3x3 with responses k - 1 and k + 1)
    /// above `voteLimit` noise units (5; 20 at 0.5 px): (the scale it votes for, response / noise)
    /// each. The responses are on a grid of every `factor`-th pixel. A maximum votes only if no
    /// invalid pixel lies within its centre lobe, sqrt(2) x its scale (as `log` drops such blobs):
    /// there the response measures the edge of the valid data (a dead detector area's rim, a beam
    /// stop's), not a spot, and on a frame with few spots those edges would carry the median.
    static func votes(scale s: Double, factor: Int, responses: [Image], _ k: Int, mask: Mask, noise: Double) -> [(Double, Double)] {
        guard noise > 0 else { return [] }
        let voted = s * pow(2, 1.0 / 6)
        let lobe = mask.isEverywhereValid ? 0 : 2.0.squareRoot() * voted / Double(factor)
        return maxima(responses[k], below: responses[k - 1], above: responses[k + 1], mask: mask, limit: Float(voteLimit(scale: s) * noise), lobe: lobe)
            .map { (voted, Double($0) / noise) }
    }

    /// The votes of the significant scale-space maxima and their weighted median scale. With a
    /// lattice each response's noise is the smaller of its MAD noise and the noise along the
    /// lattice; only scales whose noise that lowers are voted again.
    static func spotScale(_ space: ScaleSpace, lattice: (dx: Int, dy: Int)?) -> Double? {
        // Per octave, the lattice vector in grid pixels (rounded); nil without a lattice or when
        // it rounds to zero (then the MAD votes stand).
        let gridLattices: [(dx: Int, dy: Int)?] = space.octaves.map { octave in
            lattice.flatMap { l in
                let f = Double(octave.factor)
                let dx = Int((Double(l.dx) / f).rounded()), dy = Int((Double(l.dy) / f).rounded())
                return (dx == 0 && dy == 0) ? nil : (dx, dy)
            }
        }
        // Every (octave, member) to measure along the lattice, as one flat parallel loop.
        let jobs = space.octaves.indices.flatMap { o in
            gridLattices[o] == nil ? [] : space.octaves[o].members.indices.map { (o, $0) }
        }
        var found = [[(Double, Double)]](repeating: [], count: jobs.count)
        found.withUnsafeMutableBufferPointer { fb in
            let out = SharedPointer(fb.baseAddress!)
            Parallel.forEach(jobs.count) { n in
                let (o, m) = jobs[n]
                let octave = space.octaves[o], L = gridLattices[o]!
                let i = octave.members[m], k = i - (octave.members[0] - 1)
                let mad = octave.madNoise[m]
                guard let along = latticeNoise(of: octave.responses[k], mask: octave.noiseMask, lattice: L, samples: 1 << 16),
                      along < mad else { out[n] = octave.madVotes[m]; return }
                out[n] = ContentScale.votes(scale: space.usable[i], factor: octave.factor, responses: octave.responses, k, mask: octave.gridMask, noise: along)
            }
        }
        // In octave and member order, as measured.
        var votes: [(Double, Double)] = []
        var next = 0
        for (o, octave) in space.octaves.enumerated() {
            for m in octave.members.indices {
                if gridLattices[o] == nil {
                    votes += octave.madVotes[m]
                } else {
                    votes += found[next]; next += 1
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

    /// The values of the maxima of `r` over its 3x3x3 neighbourhood with `lo` and `hi` that
    /// exceed `limit`, on valid pixels with no invalid pixel within `lobe` px (0: not checked).
    static func maxima(_ r: Image, below lo: Image, above hi: Image, mask: Mask, limit: Float, lobe: Double = 0) -> [Float] {
        let w = r.width, h = r.height
        var found: [Float] = []
        r.pixels.withUnsafeBufferPointer { rp in
        lo.pixels.withUnsafeBufferPointer { lp in
        hi.pixels.withUnsafeBufferPointer { hp in
        mask.isValid.withUnsafeBufferPointer { valid in
        // Per row, the columns above the limit first (a vector pass in C: most pixels are far
        // below it), then the 3 x 3 x 3 test at those only, in order.
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: w) { above in
            for y in 0..<h {
                let row = y &* w
                let count = peaks_indices_above(rp.baseAddress! + row, w, limit, above.baseAddress!)
                for c in 0..<count {
                    let x = Int(above[c])
                    let v = rp[row &+ x]
                    guard valid[row &+ x] else { continue }
                    var isMax = true
                    check: for dy in -1...1 {
                        let yy = y &+ dy
                        guard yy >= 0, yy < h else { continue }
                        for dx in -1...1 {
                            let xx = x &+ dx
                            guard xx >= 0, xx < w else { continue }
                            let q = yy &* w &+ xx
                            if lp[q] > v || hp[q] > v || (q != row &+ x && rp[q] > v) { isMax = false; break check }
                        }
                    }
                    if isMax, lobe == 0 || !mask.hasInvalidPixel(within: lobe, ofX: x, y: y) { found.append(v) }
                }
            }
        }
        }
        }
        }
        }
        return found
    }
}
