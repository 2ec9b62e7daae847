import CCairo
import PeakKit

/// Appearance and size limits of overlay pictures. The defaults suit a screen and a report.
public struct OverlayOptions: Sendable, Equatable {
    /// Small images are enlarged by an integer factor (nearest neighbour) to at least this width...
    public var minimumWidth: Int = 512
    /// ...unless that would make either side longer than this. Images with a side longer than
    /// this are reduced (cairo's GOOD filter) so that the longer side is exactly this long.
    public var maximumSize: Int = 2048
    /// The picture is at least this wide (room for the title); a narrower image is centred.
    public var minimumCanvasWidth: Int = 320
    /// Height of the title bar above the image in pixels (0 = no title bar).
    public var titleBarHeight: Int = 28
    /// Title font size in pixels (DejaVu Sans); shrunk, down to 7 px, if the title does not fit.
    public var titleFontSize: Double = 15
    public var titleColour = Colour(red: 0.95, green: 0.95, blue: 0.95)
    /// Colour of the title bar and of any margin around a narrow image.
    public var backgroundColour = Colour(red: 0.12, green: 0.12, blue: 0.14)
    /// Radius in screen pixels of the ring drawn at each peak (when no radius is given for it).
    public var markerRadius: Double = 5.5
    /// Ring and centre-dot colour (bright yellow: visible on any grey).
    public var markerColour = Colour(red: 1.0, green: 0.9, blue: 0.0)
    /// Thin outline under the ring and dot so they stay visible on white.
    public var outlineColour = Colour(red: 0, green: 0, blue: 0, alpha: 0.85)
    /// Semi-transparent tint over invalid (masked) pixels.
    public var maskTint = Colour(red: 1.0, green: 0.0, blue: 0.45, alpha: 0.45)
    /// Ring line width and outline width in screen pixels.
    public var markerLineWidth: Double = 1.6
    public var outlineWidth: Double = 1.0
    /// Radius in screen pixels of the filled dot at each peak's centre.
    public var centreDotRadius: Double = 1.6

    public init() {}

    func validate() throws {
        func bad(_ name: String, _ why: String) -> PeaksError { .invalidParameter(name: name, reason: why) }
        guard minimumWidth >= 1 else { throw bad("minimumWidth", "must be >= 1 (is \(minimumWidth))") }
        guard maximumSize >= 1 && maximumSize <= 16384 else { throw bad("maximumSize", "must be in 1...16384 (is \(maximumSize))") }
        guard minimumCanvasWidth >= 0 && minimumCanvasWidth <= 16384 else { throw bad("minimumCanvasWidth", "must be in 0...16384") }
        guard titleBarHeight >= 0 && titleBarHeight <= 1024 else { throw bad("titleBarHeight", "must be in 0...1024") }
        for (name, v) in [("titleFontSize", titleFontSize), ("markerRadius", markerRadius),
                          ("markerLineWidth", markerLineWidth), ("outlineWidth", outlineWidth),
                          ("centreDotRadius", centreDotRadius)] {
            guard v.isFinite && v >= 0 && v <= 1000 else { throw bad(name, "must be a finite number in 0...1000 (is \(v))") }
        }
    }
}

/// Where an image lands in an overlay picture.
///
/// Image pixel (x, y) (x = column, y = row, centre of pixel (0, 0) at (0.0, 0.0)) covers the
/// screen rectangle `[originX + x * scaleX, originX + (x + 1) * scaleX) x [originY + y * scaleY, ...)`,
/// so the image point (x, y) is drawn at `screenPoint(x:y:)` = the centre of that rectangle.
public struct OverlayLayout: Sendable, Equatable {
    public let imageWidth: Int
    public let imageHeight: Int
    /// Screen pixels per image pixel (equal integers when enlarging; nearly equal when reducing).
    public let scaleX: Double
    public let scaleY: Double
    public let scaledWidth: Int
    public let scaledHeight: Int
    /// Top-left screen corner of image pixel (0, 0)'s rectangle.
    public let originX: Int
    public let originY: Int
    public let titleBarHeight: Int
    public let canvasWidth: Int
    public let canvasHeight: Int
    /// True when the image is reduced (drawn with a smoothing filter, not nearest neighbour).
    public var isReduced: Bool { scaledWidth < imageWidth || scaledHeight < imageHeight }

    public init(imageWidth: Int, imageHeight: Int, options: OverlayOptions = .init()) throws {
        try options.validate()
        guard imageWidth > 0 && imageHeight > 0 else {
            throw PeaksError.invalidImage(reason: "the image is empty (\(imageWidth)x\(imageHeight))")
        }
        self.imageWidth = imageWidth
        self.imageHeight = imageHeight
        let longest = max(imageWidth, imageHeight)
        if longest > options.maximumSize {
            let s = Double(options.maximumSize) / Double(longest)
            scaledWidth = max(1, Int((Double(imageWidth) * s).rounded()))
            scaledHeight = max(1, Int((Double(imageHeight) * s).rounded()))
        } else {
            let wanted = (options.minimumWidth + imageWidth - 1) / imageWidth
            let k = max(1, min(wanted, options.maximumSize / longest))
            scaledWidth = k * imageWidth
            scaledHeight = k * imageHeight
        }
        scaleX = Double(scaledWidth) / Double(imageWidth)
        scaleY = Double(scaledHeight) / Double(imageHeight)
        titleBarHeight = options.titleBarHeight
        canvasWidth = max(scaledWidth, options.minimumCanvasWidth)
        canvasHeight = titleBarHeight + scaledHeight
        originX = (canvasWidth - scaledWidth) / 2
        originY = titleBarHeight
    }

    /// The screen point (continuous coordinates, pixel edges at integers) where image point
    /// (x, y) is drawn.
    public func screenPoint(x: Double, y: Double) -> (x: Double, y: Double) {
        (Double(originX) + (x + 0.5) * scaleX, Double(originY) + (y + 0.5) * scaleY)
    }

    /// The screen pixel containing `screenPoint(x:y:)`.
    public func screenPixel(x: Double, y: Double) -> (x: Int, y: Int) {
        let p = screenPoint(x: x, y: y)
        return (Int(p.x.rounded(.down)), Int(p.y.rounded(.down)))
    }
}

/// Overlay pictures: a greyscale rendering of an image with its mask and detected peaks marked,
/// under a title bar.
public enum Overlay {
    /// PNG file bytes of an overlay picture (the caller writes them, e.g. with `AtomicFile`).
    ///
    /// - The image is shown in grey levels by `DisplayMapping` (`stretch`, statistics from the
    ///   valid finite pixels), enlarged by an integer factor with nearest-neighbour filtering or
    ///   reduced with cairo's GOOD filter, as `OverlayLayout` says.
    /// - Invalid pixels of `mask` are tinted with `options.maskTint`.
    /// - Each peak gets a ring of `options.markerRadius` screen pixels, or, when `radii` is given,
    ///   a ring of `radii[i]` image pixels (non-finite or non-positive radii fall back to the
    ///   fixed ring), plus a centre dot; both in `options.markerColour` over a dark outline, drawn
    ///   at the centre of the peak's pixel. Peaks with non-finite coordinates are skipped.
    /// - `title` is written in DejaVu Sans in the title bar.
    ///
    /// Same inputs give identical bytes (cairo writes no time stamp).
    /// - Throws: `PeaksError` for an empty image, a mask of the wrong shape, a `radii` count
    ///   different from the peak count, bad options, or a cairo failure.
    public static func png(
        image: Image, mask: Mask?, peaks: [Peak], radii: [Double]? = nil, title: String,
        stretch: Stretch = .auto, options: OverlayOptions = .init()
    ) throws -> [UInt8] {
        let layout = try OverlayLayout(imageWidth: image.width, imageHeight: image.height, options: options)
        if let radii, radii.count != peaks.count {
            throw PeaksError.invalidParameter(name: "radii", reason: "\(radii.count) radii given for \(peaks.count) peaks")
        }
        let (canvas, cr) = try imageCanvas(image: image, mask: mask, stretch: stretch, layout: layout, options: options, "overlay")
        defer { cairo_surface_destroy(canvas); cairo_destroy(cr) }

        // Markers, clipped to the image area.
        cairo_save(cr)
        cairo_rectangle(cr, Double(layout.originX), Double(layout.originY),
                        Double(layout.scaledWidth), Double(layout.scaledHeight))
        cairo_clip(cr)
        let ringScale = (layout.scaleX + layout.scaleY) / 2
        for (i, p) in peaks.enumerated() where p.x.isFinite && p.y.isFinite {
            let c = layout.screenPoint(x: p.x, y: p.y)
            var r = options.markerRadius
            if let radii, radii[i].isFinite, radii[i] > 0 { r = radii[i] * ringScale }
            drawMarker(cr, x: c.x, y: c.y, radius: r, options: options)
        }
        cairo_restore(cr)

        if layout.titleBarHeight > 0 {
            drawTitle(cr, title, layout: layout, options: options)
        }
        try Cairo.check(cairo_status(cr), "overlay drawing")
        return try Cairo.pngBytes(canvas)
    }

    /// The canvas every overlay-like picture starts from: the background colour, and the image
    /// (display-stretched, with invalid pixels tinted when a mask is given) painted into the
    /// layout's image area, enlarged with nearest-neighbour or reduced with a smoothing filter.
    /// The caller draws on top through the returned context and destroys both. `extraHeight`
    /// adds a band of background below the layout's canvas (for a legend).
    static func imageCanvas(
        image: Image, mask: Mask?, stretch: Stretch, layout: OverlayLayout, options: OverlayOptions,
        extraHeight: Int = 0, _ what: String
    ) throws -> (canvas: OpaquePointer, cr: OpaquePointer) {
        let mapping = try DisplayMapping(image: image, mask: mask, stretch: stretch)
        let levels = mapping.levels(of: image)
        let w = image.width, h = image.height

        // The grey image at one pixel per image pixel.
        let grey = try Cairo.imageSurface(CAIRO_FORMAT_RGB24, width: w, height: h, "image")
        defer { cairo_surface_destroy(grey) }
        try levels.withUnsafeBufferPointer { lv in
            try Cairo.writePixels(grey) { row, y in
                let base = y &* w
                for x in 0..<w { row[x] = UInt32(lv[base &+ x]) &* 0x010101 }
            }
        }

        // The mask tint, only if some pixel is invalid.
        var tint: OpaquePointer? = nil
        defer { if let tint { cairo_surface_destroy(tint) } }
        if let mask, mask.isValid.contains(false) {
            let t = try Cairo.imageSurface(CAIRO_FORMAT_ARGB32, width: w, height: h, "mask")
            tint = t
            let c = options.maskTint.rgba8
            let a = UInt32(c.a)
            func pm(_ v: UInt8) -> UInt32 { (UInt32(v) &* a &+ 127) / 255 }
            let tintPixel = (a << 24) | (pm(c.r) << 16) | (pm(c.g) << 8) | pm(c.b)
            try mask.isValid.withUnsafeBufferPointer { m in
                try Cairo.writePixels(t) { row, y in
                    let base = y &* w
                    for x in 0..<w { row[x] = m[base &+ x] ? 0 : tintPixel }
                }
            }
        }

        let canvas = try Cairo.imageSurface(
            CAIRO_FORMAT_RGB24, width: layout.canvasWidth, height: layout.canvasHeight + extraHeight, what)
        let cr: OpaquePointer
        do { cr = try Cairo.context(canvas, what) } catch { cairo_surface_destroy(canvas); throw error }

        options.backgroundColour.set(on: cr)
        cairo_paint(cr)

        // Image and tint, scaled.
        let filter = layout.isReduced ? CAIRO_FILTER_GOOD : CAIRO_FILTER_NEAREST
        cairo_save(cr)
        cairo_translate(cr, Double(layout.originX), Double(layout.originY))
        cairo_scale(cr, layout.scaleX, layout.scaleY)
        for surface in [grey] + (tint.map { [$0] } ?? []) {
            cairo_set_source_surface(cr, surface, 0, 0)
            if let pattern = cairo_get_source(cr) {
                cairo_pattern_set_filter(pattern, filter)
                cairo_pattern_set_extend(pattern, CAIRO_EXTEND_PAD)
            }
            cairo_rectangle(cr, 0, 0, Double(w), Double(h))
            cairo_fill(cr)
        }
        cairo_restore(cr)
        return (canvas, cr)
    }

    static func drawMarker(_ cr: OpaquePointer, x: Double, y: Double, radius r: Double, options o: OverlayOptions) {
        let twoPi = 2 * Double.pi
        if r > 0 {
            cairo_new_path(cr)
            cairo_arc(cr, x, y, r, 0, twoPi)
            o.outlineColour.set(on: cr)
            cairo_set_line_width(cr, o.markerLineWidth + 2 * o.outlineWidth)
            cairo_stroke_preserve(cr)
            o.markerColour.set(on: cr)
            cairo_set_line_width(cr, o.markerLineWidth)
            cairo_stroke(cr)
        }
        if o.centreDotRadius > 0 {
            cairo_new_path(cr)
            cairo_arc(cr, x, y, o.centreDotRadius + o.outlineWidth, 0, twoPi)
            o.outlineColour.set(on: cr)
            cairo_fill(cr)
            cairo_arc(cr, x, y, o.centreDotRadius, 0, twoPi)
            o.markerColour.set(on: cr)
            cairo_fill(cr)
        }
    }

    static func drawTitle(_ cr: OpaquePointer, _ title: String, layout: OverlayLayout, options o: OverlayOptions) {
        cairo_save(cr)
        defer { cairo_restore(cr) }
        cairo_rectangle(cr, 0, 0, Double(layout.canvasWidth), Double(layout.titleBarHeight))
        cairo_clip(cr)
        Cairo.useTextFont(cr)
        let pad = 8.0
        let available = Double(layout.canvasWidth) - 2 * pad
        var size = o.titleFontSize
        cairo_set_font_size(cr, size)
        var ext = cairo_text_extents_t()
        cairo_text_extents(cr, title, &ext)
        if ext.x_advance > available, ext.x_advance > 0 {
            size = max(7, size * available / ext.x_advance)
            cairo_set_font_size(cr, size)
        }
        var fe = cairo_font_extents_t()
        cairo_font_extents(cr, &fe)
        let baseline = (Double(layout.titleBarHeight) + fe.ascent - fe.descent) / 2
        o.titleColour.set(on: cr)
        cairo_move_to(cr, pad, baseline.rounded())
        cairo_show_text(cr, title)
    }
}

/// A colourful picture of a label image for people: label 0 (and any negative label) black,
/// every label k >= 1 its own colour from golden-ratio hue steps (deterministic).
public enum LabelPreview {
    /// The colour of label `k`: black for k <= 0, else HSV(hue = frac(k x 0.618034),
    /// saturation 0.75, value 0.95 for odd k and 0.80 for even k).
    public static func colour(of label: Int32) -> RGBA {
        guard label > 0 else { return RGBA(r: 0, g: 0, b: 0) }
        let golden = 0.618_033_988_749_894_9
        let hq = Double(label) * golden
        let hue = hq - hq.rounded(.down)
        let s = 0.75, v = label % 2 == 1 ? 0.95 : 0.80
        let h6 = hue * 6
        let sector = min(Int(h6.rounded(.down)), 5)
        let f = h6 - Double(sector)
        let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
        let (r, g, b): (Double, Double, Double)
        switch sector {
        case 0: (r, g, b) = (v, t, p)
        case 1: (r, g, b) = (q, v, p)
        case 2: (r, g, b) = (p, v, t)
        case 3: (r, g, b) = (p, q, v)
        case 4: (r, g, b) = (t, p, v)
        default: (r, g, b) = (v, p, q)
        }
        return Colour(red: r, green: g, blue: b).rgba8
    }

    /// The label picture at one pixel per label pixel.
    public static func rgba(labels: LabelImage) -> RGBAImage {
        var out = [UInt8](repeating: 255, count: 4 * labels.width * labels.height)
        var lastLabel: Int32 = 0
        var last = colour(of: 0)
        out.withUnsafeMutableBufferPointer { o in
            labels.labels.withUnsafeBufferPointer { l in
                for i in 0..<l.count {
                    if l[i] != lastLabel {
                        lastLabel = l[i]
                        last = colour(of: lastLabel)
                    }
                    let j = 4 &* i
                    o[j] = last.r; o[j &+ 1] = last.g; o[j &+ 2] = last.b
                }
            }
        }
        return RGBAImage(width: labels.width, height: labels.height, pixels: out)
    }

    /// PNG file bytes of the label picture, sized like an overlay without a title bar
    /// (`OverlayLayout` with `titleBarHeight` 0 and no minimum canvas width), always with
    /// nearest-neighbour filtering so that colours never blend.
    /// - Throws: `PeaksError` for an empty label image or a cairo failure.
    public static func png(labels: LabelImage, options: OverlayOptions = .init()) throws -> [UInt8] {
        var o = options
        o.titleBarHeight = 0
        o.minimumCanvasWidth = 0
        let layout = try OverlayLayout(imageWidth: labels.width, imageHeight: labels.height, options: o)
        let picture = rgba(labels: labels)
        let w = labels.width
        let src = try Cairo.imageSurface(CAIRO_FORMAT_RGB24, width: w, height: labels.height, "labels")
        defer { cairo_surface_destroy(src) }
        try picture.pixels.withUnsafeBufferPointer { p in
            try Cairo.writePixels(src) { row, y in
                var j = 4 &* w &* y
                for x in 0..<w {
                    row[x] = (UInt32(p[j]) << 16) | (UInt32(p[j &+ 1]) << 8) | UInt32(p[j &+ 2])
                    j &+= 4
                }
            }
        }
        if layout.scaledWidth == w && layout.scaledHeight == labels.height {
            return try Cairo.pngBytes(src)
        }
        let canvas = try Cairo.imageSurface(CAIRO_FORMAT_RGB24, width: layout.canvasWidth, height: layout.canvasHeight, "labels")
        defer { cairo_surface_destroy(canvas) }
        let cr = try Cairo.context(canvas, "labels")
        defer { cairo_destroy(cr) }
        cairo_scale(cr, layout.scaleX, layout.scaleY)
        cairo_set_source_surface(cr, src, 0, 0)
        if let pattern = cairo_get_source(cr) {
            cairo_pattern_set_filter(pattern, CAIRO_FILTER_NEAREST)
            cairo_pattern_set_extend(pattern, CAIRO_EXTEND_PAD)
        }
        cairo_paint(cr)
        try Cairo.check(cairo_status(cr), "label drawing")
        return try Cairo.pngBytes(canvas)
    }
}
