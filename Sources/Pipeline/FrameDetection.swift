import Filters
import ImageIO
import PeakKit

/// Everything `peaks detect` does to one frame, as one value that any number of threads can run:
/// the input checks, the detector (core + shared post-processing, once), and the optional
/// subpixel refinement. The CLI, stacks and the C ABI all call this, so a frame of a stack gives
/// exactly the peaks it gives alone.
public struct FrameDetection: Sendable {
    public let detector: any PeakDetector
    public private(set) var parameters: ParameterSet
    /// The validity mask (the frames' shape), if any.
    public let mask: Mask?
    public let nonFinite: NonFinitePolicy
    /// `--refine`: a subpixel method, or nil.
    public let refine: SubpixelMethod?
    public let refineSize: Int
    public let options: DetectionOptions

    /// - Parameters:
    ///   - detector: The detector.
    ///   - parameters: Its resolved parameters (`detector.resolveParameters`).
    ///   - mask: Valid pixels, or nil for all.
    ///   - nonFinite: What NaN/infinite pixels mean.
    ///   - refine: Subpixel refinement after detection (nil = none).
    ///   - refineSize: Window side for com/quadratic refinement.
    ///   - options: Labels wanted or not.
    public init(
        detector: any PeakDetector, parameters: ParameterSet, mask: Mask? = nil, nonFinite: NonFinitePolicy = .error,
        refine: SubpixelMethod? = nil, refineSize: Int = 3, options: DetectionOptions = .init()
    ) {
        self.detector = detector
        self.parameters = parameters
        self.mask = mask
        self.nonFinite = nonFinite
        self.refine = refine
        self.refineSize = refineSize
        self.options = options
    }

    /// This job with the settings of a stack resolved once (`PeakDetector.settingsForStack`) from
    /// the frames `StackSampling.indices` picks out of all of `source` (not a shard's block, so
    /// every shard resolves the same values). The returned job's `parameters` are what every
    /// frame is run with and what the stack's table records.
    public func resolved(forStack source: any FrameSource) throws -> FrameDetection {
        let l = source.layout
        if let mask {
            guard mask.width == l.width, mask.height == l.height else {
                throw PeaksError.shapeMismatch(what: "mask", expected: (l.width, l.height), actual: (mask.width, mask.height))
            }
        }
        let samples: [Image] = try StackSampling.indices(frameCount: l.frameCount).map { index in
            do {
                return try source.frame(index)
            } catch let error as PeaksError where l.isStack {
                throw PeaksError.file(path: source.path, reason: "frame \(index): \(error.description)")
            }
        }
        var copy = self
        copy.parameters = try detector.resolveParameters(forStack: parameters, samples: samples, mask: mask)
        return copy
    }

    /// Detects the peaks of one frame.
    ///
    /// - Parameters:
    ///   - image: The frame.
    ///   - nanMeansInvalid: True when the file marks missing data as NaN (FITS BLANK): such
    ///     pixels are then invalid whatever `nonFinite` says.
    /// - Returns: The detection, refined when asked.
    public func run(_ image: Image, nanMeansInvalid: Bool = false) throws -> Detection {
        let policy: NonFinitePolicy = nanMeansInvalid ? .mask : nonFinite
        var detection = try detector.detect(in: image, mask: mask, parameters: parameters, nonFinite: policy, options: options)
        if let method = refine {
            var valid = mask
            if policy == .mask, image.firstNonFinitePixel() != nil {
                valid = (mask ?? Mask(width: image.width, height: image.height)).intersection(Mask(finitePixelsOf: image))
            }
            detection = PeakRefinement.apply(to: detection, image: image, mask: valid, method: method, size: refineSize)
        }
        return detection
    }

    /// Detects the peaks of every frame of `source` on all cores and hands them to `deliver` in
    /// frame order (see `FrameStream`). Errors name the frame.
    ///
    /// - Parameters:
    ///   - source: The frames.
    ///   - range: Which of them (nil = all): a shard's block.
    ///   - threads: Worker threads (0 = one per core).
    ///   - deliver: (frame index in `source`, detection), in order.
    ///   - progress: Progress after each delivered frame.
    public func run(
        over source: any FrameSource, range: Range<Int>? = nil, threads: Int = 0,
        deliver: (Int, Detection) throws -> Void, progress: ((FrameStream.Progress) -> Void)? = nil
    ) throws {
        if let mask {
            let l = source.layout
            guard mask.width == l.width, mask.height == l.height else {
                throw PeaksError.shapeMismatch(what: "mask", expected: (l.width, l.height), actual: (mask.width, mask.height))
            }
        }
        let nanMeansInvalid = source.nanMeansInvalid
        let path = source.path
        let isStack = source.layout.isStack
        try FrameStream.run(
            source: source, range: range, threads: threads,
            work: { index, image in
                do {
                    return try self.run(image, nanMeansInvalid: nanMeansInvalid)
                } catch let error as PeaksError where isStack {
                    // Name the frame: "stack.npy: frame 7: image: 3 pixel(s) are NaN ...".
                    throw PeaksError.file(path: path, reason: "frame \(index): \(error.description)")
                }
            },
            deliver: deliver, progress: progress)
    }
}
