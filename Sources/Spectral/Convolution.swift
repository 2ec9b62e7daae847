import PeakKit

/// The smallest m >= n whose prime factors are all in {2, 3, 5, 7} (1 for n <= 1). FFTW is
/// fastest on such sizes; 11 -> 12, 13 -> 14, 17 -> 18, 97 -> 98, 1031 -> 1050.
public func nextFastSize(_ n: Int) -> Int {
    precondition(n < 1 << 52, "nextFastSize: \(n) is too large")
    if n <= 1 { return 1 }
    var m = n
    while true {
        var r = m
        for p in [2, 3, 5, 7] { while r % p == 0 { r /= p } }
        if r == 1 { return m }
        m += 1
    }
}

/// Which part of the linear convolution to return, as in scipy.signal.fftconvolve / correlate.
/// Per axis, for input length n and kernel length k (both >= 1):
/// - `full`: every overlap, length n + k - 1;
/// - `same`: length n, centred like scipy: elements (k - 1) / 2 ..< (k - 1) / 2 + n of `full`;
/// - `valid`: only where the kernel fits entirely inside the input, length max(n - k + 1, 0),
///   elements k - 1 ..< n of `full`. (scipy swaps the inputs when the kernel is the larger one in
///   every axis, and raises when neither contains the other; peaks returns an empty result.)
public enum ConvolutionMode: String, Sendable, CaseIterable {
    case full, same, valid

    /// Output length along one axis.
    public func outputLength(input n: Int, kernel k: Int) -> Int {
        switch self {
        case .full: return n + k - 1
        case .same: return n
        case .valid: return max(n - k + 1, 0)
        }
    }

    /// Index in the full convolution of the output's first element along one axis.
    public func fullOffset(input n: Int, kernel k: Int) -> Int {
        switch self {
        case .full: return 0
        case .same: return (k - 1) / 2
        case .valid: return k - 1
        }
    }

    /// The smallest circular (FFT) length that yields this mode's window without wrap-around:
    /// for the window [s, s + m) of the full result (length L = n + k - 1), aliases of the window
    /// at +-P must fall outside [0, L), so P >= max(s + m, L - s); P also holds both inputs.
    func minimumTransformLength(input n: Int, kernel k: Int) -> Int {
        let s = fullOffset(input: n, kernel: k), m = outputLength(input: n, kernel: k)
        return max(s + m, n + k - 1 - s, n, k)
    }
}

/// FFT convolution and correlation of 2-D real arrays, with scipy's modes.
///
/// `correlate(a, b) = convolve(a, flip(b))` with `b` reversed along both axes, which for real data
/// is scipy.signal.correlate(a, b, mode): full[k] = sum_j a[j] b[j - k + (nb - 1)] per axis.
///
/// Float inputs are transformed in Float: errors measured ~1e-7 of the scale max|a| * sum|b|
/// (the tests bound them by 1e-4 of that scale); Double ~1e-16 (bound 1e-10).
/// A NaN or infinity anywhere in either input makes the whole output NaN (every output of an FFT
/// convolution depends on every input), unlike a direct convolution.
public enum FFTConvolution {
    /// The convolution of `a` with `kernel`. Throws `PeaksError.invalidImage` if either is empty.
    public static func convolve<T: FFTScalar>(_ a: Grid2D<T>, _ kernel: Grid2D<T>, mode: ConvolutionMode = .full) throws -> Grid2D<T> {
        try run(a, kernel, mode: mode, flip: false, what: "convolution")
    }

    /// The cross-correlation of `a` with `template` (scipy.signal.correlate for real inputs).
    public static func correlate<T: FFTScalar>(_ a: Grid2D<T>, _ template: Grid2D<T>, mode: ConvolutionMode = .full) throws -> Grid2D<T> {
        try run(a, template, mode: mode, flip: true, what: "correlation")
    }

    /// Image convenience: the convolution of `image` with `kernel` (Float throughout).
    public static func convolve(_ image: Image, _ kernel: Image, mode: ConvolutionMode = .full) throws -> Image {
        try convolve(Grid2D(image), Grid2D(kernel), mode: mode).image
    }

    /// Image convenience: the cross-correlation of `image` with `template`.
    public static func correlate(_ image: Image, _ template: Image, mode: ConvolutionMode = .full) throws -> Image {
        try correlate(Grid2D(image), Grid2D(template), mode: mode).image
    }

    /// The autocorrelation of `image` at lags |dx| <= maxLag.x, |dy| <= maxLag.y (as in
    /// `correlate(image, image, mode: .full)`, cropped): a (2 maxLag.x + 1) x (2 maxLag.y + 1)
    /// image whose pixel (maxLag.x + dx, maxLag.y + dy) is sum_p I(p) I(p + (dx, dy)), so lag
    /// (0, 0) is its centre. The transform is padded only to width + maxLag.x (and height +
    /// maxLag.y), which keeps the circular wrap-around out of these lags: far smaller than the
    /// 2 width - 1 of the full correlation when the lags are short (for a quarter of a 512^2
    /// image, 640^2 instead of 1024^2). One forward transform and the inverse of |A|^2 over the
    /// rows of the non-negative vertical lags (the result is exactly symmetric, R(-d) = R(d)).
    public static func autocorrelation(_ image: Image, maxLag: (x: Int, y: Int)) throws -> Image {
        let a = Grid2D(image)
        try checkNonEmpty(a, "input", "autocorrelation")
        let (lx, ly) = autocorrelationLags(width: a.width, height: a.height, maxLag: maxLag)
        let plan = autocorrelationPlan(width: a.width, height: a.height, lags: (lx, ly))
        let spectrum = FFTHalfSpectrum<Float>(uninitializedWidth: plan.width, height: plan.height)
        let work = FFTHalfSpectrum<Float>(uninitializedWidth: plan.width, height: plan.height)
        a.values.withUnsafeBufferPointer {
            plan.forward(topLeft: $0.baseAddress!, width: a.width, height: a.height, flipped: false, into: spectrum)
        }
        // The inverse transform of |A|^2 is the circular autocorrelation: lag (dx, dy) at index
        // (dx mod N, dy mod M), free of wrap-around for these lags since N >= width + maxLag.x
        // (and M likewise). A real image's autocorrelation is symmetric, R(-d) = R(d), so rows
        // 0 ... maxLag.y hold every lag: row dy gives lags (dx, dy) and (-dx, -dy). One forward
        // transform instead of the two of correlate(image, image).
        let ow = 2 * lx + 1, oh = 2 * ly + 1, n = plan.width
        let factor = Float(1 / (Double(plan.width) * Double(plan.height)))
        let values = [Float](unsafeUninitializedCapacity: ow * oh) { buf, count in
            let out = SharedPointer(buf.baseAddress!)
            plan.inverse(productOf: spectrum, spectrum, conjugateB: true, work: work, rows: 0..<(ly + 1)) { dy, row in
                let up = out.base + (ly + dy) * ow + lx, down = out.base + (ly - dy) * ow + lx
                for dx in -lx...lx {
                    let v = row[dx >= 0 ? dx : n + dx] * factor
                    up[dx] = v
                    down[-dx] = v
                }
            }
            count = ow * oh
        }
        return Image(width: ow, height: oh, pixels: values)
    }

    /// Makes the plans that `autocorrelation` of a `width x height` image at these lags uses
    /// (plans are cached per process), so that their planning, about 3 ms for a 512^2 image, can
    /// be done beside other work. The autocorrelation is the same with or without it.
    public static func planAutocorrelation(width: Int, height: Int, maxLag: (x: Int, y: Int)) {
        guard width > 0, height > 0 else { return }
        _ = autocorrelationPlan(width: width, height: height, lags: autocorrelationLags(width: width, height: height, maxLag: maxLag))
    }

    static func autocorrelationLags(width: Int, height: Int, maxLag: (x: Int, y: Int)) -> (x: Int, y: Int) {
        (min(max(maxLag.x, 0), width - 1), min(max(maxLag.y, 0), height - 1))
    }

    static func autocorrelationPlan(width: Int, height: Int, lags: (x: Int, y: Int)) -> FFTPlan2D<Float> {
        FFTPlan2D<Float>(width: nextFastSize(width + lags.x), height: nextFastSize(height + lags.y))
    }

    /// The padded transform size used for inputs of these sizes in this mode (2,3,5,7-smooth).
    public static func transformSize(
        input: (width: Int, height: Int), kernel: (width: Int, height: Int), mode: ConvolutionMode
    ) -> (width: Int, height: Int) {
        (nextFastSize(mode.minimumTransformLength(input: input.width, kernel: kernel.width)),
         nextFastSize(mode.minimumTransformLength(input: input.height, kernel: kernel.height)))
    }

    static func checkNonEmpty<T>(_ g: Grid2D<T>, _ role: String, _ what: String) throws {
        if g.width == 0 || g.height == 0 {
            throw PeaksError.invalidImage(reason: "\(what): the \(role) is empty (\(g.width)x\(g.height))")
        }
    }

    static func run<T: FFTScalar>(
        _ a: Grid2D<T>, _ b: Grid2D<T>, mode: ConvolutionMode, flip: Bool, what: String
    ) throws -> Grid2D<T> {
        FFTW.checkScalar(T.self)
        try checkNonEmpty(a, "input", what)
        try checkNonEmpty(b, what == "convolution" ? "kernel" : "template", what)
        let ow = mode.outputLength(input: a.width, kernel: b.width)
        let oh = mode.outputLength(input: a.height, kernel: b.height)
        if ow == 0 || oh == 0 { return Grid2D(width: ow, height: oh) }
        let x0 = mode.fullOffset(input: a.width, kernel: b.width)
        let y0 = mode.fullOffset(input: a.height, kernel: b.height)
        let size = transformSize(input: (a.width, a.height), kernel: (b.width, b.height), mode: mode)
        let plan = FFTPlan2D<T>(width: size.width, height: size.height)

        // Two spectra; padding happens inside the forward transforms and only the output
        // window's rows are transformed back, each copied (and scaled) straight into the result.
        let sa = FFTHalfSpectrum<T>(uninitializedWidth: size.width, height: size.height)
        let sb = FFTHalfSpectrum<T>(uninitializedWidth: size.width, height: size.height)
        a.values.withUnsafeBufferPointer {
            plan.forward(topLeft: $0.baseAddress!, width: a.width, height: a.height, flipped: false, into: sa)
        }
        return window(plan, sa, b, flip: flip, into: sb, x0: x0, y0: y0, width: ow, height: oh)
    }

    /// The `width x height` window at (x0, y0) of the circular convolution of the image whose
    /// spectrum is `image` with `b` (padded, reversed with `flip`); `work` is overwritten.
    static func window<T: FFTScalar>(
        _ plan: FFTPlan2D<T>, _ image: FFTHalfSpectrum<T>, _ b: Grid2D<T>, flip: Bool, into work: FFTHalfSpectrum<T>,
        x0: Int, y0: Int, width ow: Int, height oh: Int
    ) -> Grid2D<T> {
        b.values.withUnsafeBufferPointer {
            plan.forward(topLeft: $0.baseAddress!, width: b.width, height: b.height, flipped: flip, into: work)
        }
        let factor = 1 / (Double(plan.width) * Double(plan.height))
        let values = [T](unsafeUninitializedCapacity: ow * oh) { buf, count in
            let out = SharedPointer(buf.baseAddress!)
            plan.inverse(productOf: image, work, work: work, rows: y0..<(y0 + oh)) { y, row in
                Kernels.storeRow(UnsafeRawPointer(row + x0), into: UnsafeMutableRawPointer(out.base + (y &- y0) &* ow),
                                 count: ow, scale: factor, as: T.self)
            }
            count = ow * oh
        }
        return Grid2D(width: ow, height: oh, values: values)
    }
}

/// Convolution of one image with many kernels, transforming the image once (for example the
/// scales of a Laplacian-of-Gaussian stack). Each call transforms the kernel, multiplies, and
/// transforms back: two FFTs instead of three.
///
/// The image is padded for the largest kernel announced at creation (`full` mode of a kernel of
/// that size), which covers every mode for every kernel up to that size. Memory: the image
/// spectrum is kept (about width * height / 2 complex values of the padded size); each call
/// allocates one padded real array and one spectrum and frees them on return.
///
/// Immutable after creation, so one convolver may be used from many threads at once.
public final class FFTConvolver<T: FFTScalar>: @unchecked Sendable {
    // Safe: immutable after creation (the kernel spectrum and plans); each call allocates its own
    // work arrays.
    public let imageWidth: Int
    public let imageHeight: Int
    /// The largest kernel this convolver accepts.
    public let maxKernelWidth: Int
    public let maxKernelHeight: Int
    /// The padded transform size (2,3,5,7-smooth, at least image + kernel - 1 per axis).
    public let transformWidth: Int
    public let transformHeight: Int
    let plan: FFTPlan2D<T>
    let spectrum: FFTHalfSpectrum<T>

    /// Transforms `image` once for kernels up to `kernelWidth x kernelHeight`.
    /// Throws `PeaksError.invalidImage` for an empty image, `.invalidParameter` for a kernel size < 1.
    public init(image: Grid2D<T>, kernelWidth: Int, kernelHeight: Int) throws {
        FFTW.checkScalar(T.self)
        try FFTConvolution.checkNonEmpty(image, "input", "convolver")
        guard kernelWidth >= 1 && kernelHeight >= 1 else {
            throw PeaksError.invalidParameter(
                name: "kernel size", reason: "must be at least 1x1, got \(kernelWidth)x\(kernelHeight)")
        }
        imageWidth = image.width
        imageHeight = image.height
        maxKernelWidth = kernelWidth
        maxKernelHeight = kernelHeight
        transformWidth = nextFastSize(image.width + kernelWidth - 1)
        transformHeight = nextFastSize(image.height + kernelHeight - 1)
        plan = FFTPlan2D<T>(width: transformWidth, height: transformHeight)
        spectrum = FFTHalfSpectrum<T>(uninitializedWidth: transformWidth, height: transformHeight)
        image.values.withUnsafeBufferPointer {
            plan.forward(topLeft: $0.baseAddress!, width: image.width, height: image.height, flipped: false, into: spectrum)
        }
    }

    /// The image convolved with `kernel` (at most the announced kernel size).
    public func convolve(_ kernel: Grid2D<T>, mode: ConvolutionMode = .same) throws -> Grid2D<T> {
        try run(kernel, mode: mode, flip: false, what: "convolution")
    }

    /// The image cross-correlated with `template` (at most the announced kernel size).
    public func correlate(_ template: Grid2D<T>, mode: ConvolutionMode = .same) throws -> Grid2D<T> {
        try run(template, mode: mode, flip: true, what: "correlation")
    }

    func run(_ b: Grid2D<T>, mode: ConvolutionMode, flip: Bool, what: String) throws -> Grid2D<T> {
        try FFTConvolution.checkNonEmpty(b, what == "convolution" ? "kernel" : "template", what)
        guard b.width <= maxKernelWidth && b.height <= maxKernelHeight else {
            throw PeaksError.invalidParameter(
                name: "kernel",
                reason: "\(b.width)x\(b.height) is larger than the \(maxKernelWidth)x\(maxKernelHeight) this convolver was made for")
        }
        let ow = mode.outputLength(input: imageWidth, kernel: b.width)
        let oh = mode.outputLength(input: imageHeight, kernel: b.height)
        if ow == 0 || oh == 0 { return Grid2D(width: ow, height: oh) }
        let x0 = mode.fullOffset(input: imageWidth, kernel: b.width)
        let y0 = mode.fullOffset(input: imageHeight, kernel: b.height)
        let sb = FFTHalfSpectrum<T>(uninitializedWidth: transformWidth, height: transformHeight)
        return FFTConvolution.window(plan, spectrum, b, flip: flip, into: sb, x0: x0, y0: y0, width: ow, height: oh)
    }
}

extension FFTConvolver where T == Float {
    /// Transforms `image` once for kernels up to `kernelWidth x kernelHeight`.
    public convenience init(image: Image, kernelWidth: Int, kernelHeight: Int) throws {
        try self.init(image: Grid2D(image), kernelWidth: kernelWidth, kernelHeight: kernelHeight)
    }

    /// The image convolved with `kernel`, as an image.
    public func convolve(_ kernel: Image, mode: ConvolutionMode = .same) throws -> Image {
        try convolve(Grid2D(kernel), mode: mode).image
    }

    /// The image cross-correlated with `template`, as an image.
    public func correlate(_ template: Image, mode: ConvolutionMode = .same) throws -> Image {
        try correlate(Grid2D(template), mode: mode).image
    }
}
