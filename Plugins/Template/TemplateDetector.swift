#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit

/// `peaks detect --algo template`: peaks as maxima of the cross-correlation of the frame with a
/// zero-mean template (a disc, ring, Gaussian or an image file), refined between pixels by the
/// centre of mass of the correlation, a parabolic fit, or DFT upsampling of the correlation
/// (Guizar-Sicairos et al. 2008) around each maximum, as LiberTEM-blobfinder does
/// (docs/algorithms/template.md).
///
/// 1. t = template - mean(template) on its box; the frame's invalid pixels are set to the mean of
///    its valid ones (they then add nothing: sum t = 0).
/// 2. c(d) = sum_x f(x) t(x - d) for every d, by FFT (the frame is treated as periodic):
///    C = F conj(T). The plan and T are made once per frame shape and shared by all frames.
/// 3. The `num_peaks` largest local maxima of c (3 x 3, on valid pixels, c > 0), strongest first,
///    none closer than `radius` to a stronger one.
/// 4. Each is refined within its search window and reported with the correlation c, the
///    normalised correlation (Pearson, Lewis 1995) of the template and the frame at the whole
///    pixel, and the peak elevation (the slope of the tightest cone from the peak that touches
///    the correlation at distances 1.5...search: blobfinder's quality measure).
public struct TemplateDetector: PeakDetector {
    public init() {}

    public let name = "template"
    public let summary = "Template matching: maxima of the FFT correlation with a zero-mean disc, ring, Gaussian or image file, refined by centre of mass, parabola or DFT upsampling (LiberTEM-blobfinder's method)."

    /// How correlation maxima are placed between pixels.
    public enum Refine: String, SettingChoice {
        /// Centre of mass of the correlation minus its minimum over the 5 x 5 pixels around the
        /// maximum (blobfinder's default).
        case com
        /// Vertex of the least-squares quadratic through the 3 x 3 values.
        case parabolic
        /// The best point of a grid of spacing 1 / upsample over +-0.75 px, by a DFT at those
        /// points (Guizar-Sicairos 2008; blobfinder's `upsample`).
        case upsample
        /// `upsample`, then the vertex of a quadratic through the 3 x 3 grid points around the
        /// best one: below the grid spacing.
        case upsampleFit = "upsample-fit"
        /// The whole pixel.
        case none
    }

    public struct Settings: DetectorSettings {
        public var template = "disc"
        public var radius = 6.0
        public var innerRadius: Automatic<Double> = .auto
        public var sigma: Automatic<Double> = .auto
        public var search: Automatic<Int> = .auto
        public var numPeaks = 1
        public var refine = Refine.upsample
        public var upsample = 20
        public var positions = ""

        public init() {}

        public static let fields: [SettingField<Settings>] = [
            .text("template", \.template,
                  help: "disc, ring, gaussian, or an image file (any format peaks reads) whose pixel (width/2, height/2) is the reported position. Made zero-mean."),
            .real("radius", \.radius, range: 0.5...100_000, unit: "px", help: "Disc and ring: outer radius (anti-aliased); gaussian: sets sigma = radius / 2 unless given. Also the smallest distance between two peaks."),
            .real("inner_radius", \.innerRadius, range: 0...100_000, unit: "px", help: "Ring: inner radius (auto = radius / 2)."),
            .real("sigma", \.sigma, range: 0.1...100_000, unit: "px", help: "Gaussian: the template's sigma (auto = radius / 2)."),
            .integer("search", \.search, range: 1...100_000, unit: "px",
                     help: "Half-size of the template box and of the window around each peak (elevation, refinement); auto = ceil(2 radius), or half the file template's larger side."),
            .integer("num_peaks", \.numPeaks, range: 1...1_000_000, help: "How many correlation maxima to report per frame, strongest first."),
            .choice("refine", \.refine,
                    help: "Subpixel refinement of each maximum: com (centre of mass of the 5x5 correlation), parabolic (3x3 quadratic), upsample (DFT upsampling to 1/upsample px), upsample-fit (upsample, then a quadratic on the upsampled grid), none."),
            .integer("upsample", \.upsample, range: 2...1000, help: "refine=upsample|upsample-fit: the upsampling factor (grid spacing 1/upsample px)."),
            .text("positions", \.positions,
                  help: "Empty: search the whole frame. Or expected positions 'x,y;x,y;...' (whole pixels): each is matched only within the 2 search x 2 search crop centred on it, one match per position, num_peaks not used (blobfinder's process_frames_fast)."),
        ]

        /// The expected positions (x, y) of `positions`, empty for a whole-frame search.
        /// (Parsed on every frame, so without Foundation's string functions.)
        func parsedPositions() throws -> [(x: Int, y: Int)] {
            func trimmed(_ t: Substring) -> Substring {
                var t = t
                while let f = t.first, f == " " || f == "\t" { t.removeFirst() }
                while let l = t.last, l == " " || l == "\t" { t.removeLast() }
                return t
            }
            if positions.allSatisfy({ $0 == " " || $0 == "\t" }) { return [] }
            return try positions.split(separator: ";", omittingEmptySubsequences: false).map { item in
                let parts = item.split(separator: ",", omittingEmptySubsequences: false).map(trimmed)
                guard parts.count == 2, let x = Int(parts[0]), let y = Int(parts[1]) else {
                    throw PeaksError.invalidParameter(name: "positions", reason: "expected whole-pixel positions 'x,y;x,y;...', got '\(trimmed(item))'")
                }
                return (x, y)
            }
        }

        var isFile: Bool { !["disc", "ring", "gaussian"].contains(template) }
        var resolvedInnerRadius: Double { innerRadius.given ?? radius / 2 }
        var resolvedSigma: Double { sigma.given ?? radius / 2 }
        /// The search half-size (for a file template: needs the file, see `TemplateDetector.search`).
        var resolvedSearch: Int {
            if let s = search.given { return s }
            switch template {
            case "gaussian": return Int(max(2 * radius, 3 * resolvedSigma).rounded(.up))
            default: return Int((2 * radius).rounded(.up))
            }
        }
        var cacheKey: String {
            // Bit patterns: exact, and cheaper to format than the numbers (built on every frame).
            isFile ? "file:\(template)" : "\(template)|\(radius.bitPattern)|\(resolvedInnerRadius.bitPattern)|\(resolvedSigma.bitPattern)|\(resolvedSearch)"
        }
    }

    /// The window half-size used around each peak.
    static func search(_ s: Settings, box: TemplateBox) -> Int {
        if let given = s.search.given { return given }
        return s.isFile ? (max(box.width, box.height) + 1) / 2 : s.resolvedSearch
    }

    /// Refuses settings the frame cannot hold: a radius or template larger than the frame, a
    /// ring whose inner radius is not inside its outer one, a template file that is unreadable,
    /// constant, all zeros or has NaN pixels.
    public func check(_ s: Settings, width: Int, height: Int) throws {
        if !s.isFile {
            let limit = Double(min(width, height)) / 2
            guard s.radius <= limit else {
                throw PeaksError.invalidParameter(
                    name: "radius", reason: "\(NumberFormat.string(s.radius)) px does not fit the \(width)x\(height) frame (at most half its smaller side, \(NumberFormat.string(limit)) px)")
            }
            if s.template == "ring" {
                guard s.resolvedInnerRadius < s.radius else {
                    throw PeaksError.invalidParameter(name: "inner_radius", reason: "must be less than radius (\(NumberFormat.string(s.radius))), got \(NumberFormat.string(s.resolvedInnerRadius))")
                }
            }
            if let given = s.search.given, Double(given) < s.radius {
                throw PeaksError.invalidParameter(name: "search", reason: "\(given) px is smaller than the radius \(NumberFormat.string(s.radius)) px: the window must contain the pattern")
            }
        }
        let box = try PreparedTemplate.box(for: s)
        guard box.width <= width, box.height <= height else {
            throw PeaksError.invalidParameter(
                name: "template", reason: "the template (\(box.width)x\(box.height) px) is larger than the \(width)x\(height) frame")
        }
        for (x, y) in try s.parsedPositions() where x < 0 || y < 0 || x >= width || y >= height {
            throw PeaksError.invalidParameter(name: "positions", reason: "\(x),\(y) is outside the \(width)x\(height) frame")
        }
    }

    public func candidates(in image: Image, mask: Mask, settings s: Settings, options: DetectionOptions) throws -> Detection {
        let positions = try s.parsedPositions()
        let found: [TemplateMatch]
        let prepared: PreparedTemplate
        let search: Int
        if positions.isEmpty {
            prepared = try PreparedTemplate.prepared(for: s, width: image.width, height: image.height)
            search = Self.search(s, box: prepared.box)
            found = TemplateMatcher.match(image, mask: mask, prepared: prepared, numPeaks: s.numPeaks,
                                          separation: s.isFile ? Double(max(1, min(prepared.box.width, prepared.box.height) / 2)) : s.radius,
                                          search: search, refine: s.refine, upsample: s.upsample)
        } else {
            // Crops of side 2 search (blobfinder's `2 * crop_size`).
            search = Self.search(s, box: try PreparedTemplate.box(for: s))
            prepared = try PreparedTemplate.prepared(for: s, width: 2 * search, height: 2 * search)
            found = TemplateMatcher.matchNear(positions, image: image, mask: mask, prepared: prepared, search: search,
                                              refine: s.refine, upsample: s.upsample)
        }
        let peaks = found.map { m in
            let px = min(max(Int(m.x.rounded()), 0), image.width - 1), py = min(max(Int(m.y.rounded()), 0), image.height - 1)
            return Peak(x: m.x, y: m.y, value: Double(image[px, py]), strength: m.correlation,
                        attributes: ["correlation": m.correlation, "ncc": m.ncc, "elevation": m.elevation,
                                     "pixel_x": Double(m.pixelX), "pixel_y": Double(m.pixelY), "refined": m.refined ? 1 : 0])
        }
        var detection = Detection(
            peaks: peaks, attributeNames: ["correlation", "ncc", "elevation", "pixel_x", "pixel_y", "refined"], strengthName: "correlation",
            diagnostics: [("template", .string(s.isFile ? "file" : s.template)), ("template_width", .integer(prepared.box.width)),
                          ("template_height", .integer(prepared.box.height)), ("search", .integer(search)), ("refine", .string(s.refine.rawValue))])
        if options.wantsLabels {
            let w = image.width, h = image.height, r = max(1, s.isFile ? Double(search) / 2 : s.radius)
            detection.labelling = { kept in
                var labels = [Int32](repeating: 0, count: w * h)
                let ri = Int(r.rounded(.up))
                for (k, p) in kept.enumerated() {
                    let (cx, cy) = p.pixel
                    for y in max(0, cy - ri)...min(h - 1, cy + ri) {
                        for x in max(0, cx - ri)...min(w - 1, cx + ri) where labels[y * w + x] == 0 {
                            let dx = Double(x) - p.x, dy = Double(y) - p.y
                            if dx * dx + dy * dy <= r * r { labels[y * w + x] = Int32(k + 1) }
                        }
                    }
                }
                // A peak's own pixel always belongs to it.
                for (k, p) in kept.enumerated() { labels[p.pixel.y * w + p.pixel.x] = Int32(k + 1) }
                return LabelImage(width: w, height: h, labels: labels)
            }
        }
        return detection
    }
}
