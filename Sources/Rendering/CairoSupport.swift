import CCairo
import PeakKit

/// Small helpers around the cairo C API: status checks, PNG streams, surfaces.
enum Cairo {
    /// Throws `PeaksError.invalidImage` naming `what` unless `status` is success.
    static func check(_ status: cairo_status_t, _ what: String) throws {
        if status != CAIRO_STATUS_SUCCESS {
            let text = cairo_status_to_string(status).map { String(cString: $0) } ?? "status \(status.rawValue)"
            throw PeaksError.invalidImage(reason: "cannot render (\(what)): \(text)")
        }
    }

    /// Loads libcairo if needed (it is loaded on first use: Sources/_PeaksLazyLibraries); throws
    /// naming `what` when it cannot be loaded.
    static func load(_ what: String) throws {
        if let reason = ccairo_load() { throw PeaksError.invalidImage(reason: "cannot render (\(what)): \(String(cString: reason))") }
    }

    /// An image surface of the given format and size; throws if cairo cannot make it (too large,
    /// out of memory). The caller destroys it.
    static func imageSurface(_ format: cairo_format_t, width: Int, height: Int, _ what: String) throws -> OpaquePointer {
        try load(what)
        // cairo's limit is 32767 per side; check here for a clear message.
        guard width > 0, height > 0, width <= 32767, height <= 32767 else {
            throw PeaksError.invalidImage(reason: "cannot render (\(what)): surface size \(width)x\(height) is outside 1...32767")
        }
        guard let s = cairo_image_surface_create(format, Int32(width), Int32(height)) else {
            throw PeaksError.invalidImage(reason: "cannot render (\(what)): no surface")
        }
        let status = cairo_surface_status(s)
        if status != CAIRO_STATUS_SUCCESS {
            cairo_surface_destroy(s)
            try check(status, what)
        }
        return s
    }

    /// A context on `surface`; throws on failure. The caller destroys it.
    /// Text in every picture: DejaVu Sans with fixed font options (grey antialiasing, slight
    /// hinting, unhinted metrics), so the text does not depend on the desktop's font settings
    /// and pictures stay byte-identical between runs.
    static func useTextFont(_ cr: OpaquePointer) {
        if let fo = cairo_font_options_create() {
            cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY)
            cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT)
            cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF)
            cairo_set_font_options(cr, fo)
            cairo_font_options_destroy(fo)
        }
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)
    }

    static func context(_ surface: OpaquePointer, _ what: String) throws -> OpaquePointer {
        guard let cr = cairo_create(surface) else {
            throw PeaksError.invalidImage(reason: "cannot render (\(what)): no context")
        }
        let status = cairo_status(cr)
        if status != CAIRO_STATUS_SUCCESS {
            cairo_destroy(cr)
            try check(status, what)
        }
        return cr
    }

    /// Fills an image surface's pixels row by row: `fill(rowPointer, y)` receives the row as
    /// 32-bit native-endian pixels (ARGB32/RGB24 layout). Flushes before and marks dirty after.
    static func writePixels(_ surface: OpaquePointer, _ fill: (UnsafeMutablePointer<UInt32>, Int) -> Void) throws {
        cairo_surface_flush(surface)
        guard let data = cairo_image_surface_get_data(surface) else {
            throw PeaksError.invalidImage(reason: "cannot render: surface has no pixel data")
        }
        let stride = Int(cairo_image_surface_get_stride(surface))
        let height = Int(cairo_image_surface_get_height(surface))
        for y in 0..<height {
            let row = UnsafeMutableRawPointer(data + y &* stride).assumingMemoryBound(to: UInt32.self)
            fill(row, y)
        }
        cairo_surface_mark_dirty(surface)
    }

    /// Accumulates PNG bytes written by cairo.
    final class ByteSink {
        var bytes: [UInt8] = []
    }

    /// The PNG file bytes of `surface` (deterministic: cairo writes no time stamp).
    static func pngBytes(_ surface: OpaquePointer) throws -> [UInt8] {
        cairo_surface_flush(surface)
        let sink = ByteSink()
        let status = withExtendedLifetime(sink) {
            cairo_surface_write_to_png_stream(surface, { closure, data, length in
                guard let closure else { return CAIRO_STATUS_WRITE_ERROR }
                let sink = Unmanaged<ByteSink>.fromOpaque(closure).takeUnretainedValue()
                if length > 0 {
                    guard let data else { return CAIRO_STATUS_WRITE_ERROR }
                    sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
                }
                return CAIRO_STATUS_SUCCESS
            }, Unmanaged.passUnretained(sink).toOpaque())
        }
        try check(status, "PNG encoding")
        return sink.bytes
    }

    /// Feeds PNG bytes to cairo's reader.
    final class ByteSource {
        let bytes: [UInt8]
        var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }

    /// Decodes PNG bytes into an image surface (ARGB32 or RGB24). The caller destroys it.
    static func surface(fromPNG bytes: [UInt8]) throws -> OpaquePointer {
        try load("PNG")
        let source = ByteSource(bytes)
        let surface = withExtendedLifetime(source) {
            cairo_image_surface_create_from_png_stream({ closure, data, length in
                guard let closure, let data else { return CAIRO_STATUS_READ_ERROR }
                let src = Unmanaged<ByteSource>.fromOpaque(closure).takeUnretainedValue()
                let n = Int(length)
                guard n <= src.bytes.count - src.offset else { return CAIRO_STATUS_READ_ERROR }
                src.bytes.withUnsafeBufferPointer { b in
                    if n > 0, let base = b.baseAddress {
                        data.update(from: base + src.offset, count: n)
                    }
                }
                src.offset += n
                return CAIRO_STATUS_SUCCESS
            }, Unmanaged.passUnretained(source).toOpaque())
        }
        guard let surface else { throw PeaksError.invalidImage(reason: "cannot decode PNG: no surface") }
        let status = cairo_surface_status(surface)
        if status != CAIRO_STATUS_SUCCESS {
            cairo_surface_destroy(surface)
            let text = cairo_status_to_string(status).map { String(cString: $0) } ?? "status \(status.rawValue)"
            throw PeaksError.invalidImage(reason: "cannot decode PNG: \(text)")
        }
        return surface
    }
}

/// An sRGB colour with straight (not premultiplied) alpha, components in 0...1.
public struct Colour: Sendable, Equatable {
    public var red: Double
    public var green: Double
    public var blue: Double
    public var alpha: Double

    public init(red: Double, green: Double, blue: Double, alpha: Double = 1) {
        self.red = red
        self.green = green
        self.blue = blue
        self.alpha = alpha
    }

    /// 8-bit components (rounded), for comparing with decoded pixels.
    public var rgba8: RGBA {
        func q(_ v: Double) -> UInt8 { UInt8((min(max(v, 0), 1) * 255).rounded()) }
        return RGBA(r: q(red), g: q(green), b: q(blue), a: q(alpha))
    }

    func set(on cr: OpaquePointer) {
        cairo_set_source_rgba(cr, red, green, blue, alpha)
    }
}
