import CCairo
import PeakKit

/// One 8-bit RGBA pixel (straight alpha).
public struct RGBA: Sendable, Equatable, CustomStringConvertible {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8
    public var a: UInt8

    public init(r: UInt8, g: UInt8, b: UInt8, a: UInt8 = 255) {
        self.r = r
        self.g = g
        self.b = b
        self.a = a
    }

    /// True when R = G = B (a shade of grey, including black and white).
    public var isGrey: Bool { r == g && g == b }

    public var description: String { "RGBA(\(r), \(g), \(b), \(a))" }
}

/// An 8-bit RGBA picture with straight (not premultiplied) alpha, row-major, 4 bytes per pixel:
/// pixel (x, y) is `pixels[4 * (y * width + x) ..< 4 * (y * width + x) + 4]` = R, G, B, A.
/// Used to read rendered PNGs back in tests and to compare them with golden files.
public struct RGBAImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "negative image size")
        precondition(pixels.count == 4 * width * height, "pixel byte count \(pixels.count) != 4x\(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A picture filled with one colour.
    public init(width: Int, height: Int, filling colour: RGBA) {
        var p = [UInt8]()
        p.reserveCapacity(4 * width * height)
        for _ in 0..<(width * height) { p += [colour.r, colour.g, colour.b, colour.a] }
        self.init(width: width, height: height, pixels: p)
    }

    public subscript(x: Int, y: Int) -> RGBA {
        get {
            let i = 4 * (y * width + x)
            return RGBA(r: pixels[i], g: pixels[i + 1], b: pixels[i + 2], a: pixels[i + 3])
        }
        set {
            let i = 4 * (y * width + x)
            pixels[i] = newValue.r
            pixels[i + 1] = newValue.g
            pixels[i + 2] = newValue.b
            pixels[i + 3] = newValue.a
        }
    }

    /// Decodes PNG file bytes with cairo (any PNG cairo reads: grey, RGB, RGBA, palette, 16-bit
    /// reduced to 8). Cairo's premultiplied native-endian ARGB32 is converted to straight RGBA;
    /// opaque formats get A = 255.
    /// - Throws: `PeaksError.invalidImage` if the bytes are not a PNG cairo can read.
    public static func decodePNG(_ bytes: [UInt8]) throws -> RGBAImage {
        let surface = try Cairo.surface(fromPNG: bytes)
        defer { cairo_surface_destroy(surface) }
        cairo_surface_flush(surface)
        let format = cairo_image_surface_get_format(surface)
        let opaque: Bool
        switch format {
        case CAIRO_FORMAT_ARGB32: opaque = false
        case CAIRO_FORMAT_RGB24: opaque = true
        default: throw PeaksError.invalidImage(reason: "cannot decode PNG: unexpected cairo format \(format.rawValue)")
        }
        let w = Int(cairo_image_surface_get_width(surface))
        let h = Int(cairo_image_surface_get_height(surface))
        let stride = Int(cairo_image_surface_get_stride(surface))
        guard let data = cairo_image_surface_get_data(surface) else {
            throw PeaksError.invalidImage(reason: "cannot decode PNG: no pixel data")
        }
        var out = [UInt8](repeating: 0, count: 4 &* w &* h)
        out.withUnsafeMutableBufferPointer { o in
            for y in 0..<h {
                let row = UnsafeRawPointer(data + y &* stride).assumingMemoryBound(to: UInt32.self)
                var j = 4 &* w &* y
                for x in 0..<w {
                    let px = row[x]
                    let a = opaque ? 255 : UInt32(px >> 24)
                    var r = (px >> 16) & 0xff, g = (px >> 8) & 0xff, b = px & 0xff
                    if a == 0 {
                        r = 0; g = 0; b = 0
                    } else if a < 255 {
                        // Unpremultiply with rounding; clamp for malformed data.
                        r = min(255, (r &* 255 &+ a / 2) / a)
                        g = min(255, (g &* 255 &+ a / 2) / a)
                        b = min(255, (b &* 255 &+ a / 2) / a)
                    }
                    o[j] = UInt8(r)
                    o[j &+ 1] = UInt8(g)
                    o[j &+ 2] = UInt8(b)
                    o[j &+ 3] = UInt8(a)
                    j &+= 4
                }
            }
        }
        return RGBAImage(width: w, height: h, pixels: out)
    }

    /// PNG file bytes of this picture (via a cairo ARGB32 surface; fully opaque pictures round
    /// trip exactly, translucent ones up to premultiplication rounding).
    /// - Throws: `PeaksError.invalidImage` for an empty picture or if cairo fails.
    public func encodePNG() throws -> [UInt8] {
        let surface = try Cairo.imageSurface(CAIRO_FORMAT_ARGB32, width: width, height: height, "PNG encoding")
        defer { cairo_surface_destroy(surface) }
        let w = width
        try pixels.withUnsafeBufferPointer { p in
            try Cairo.writePixels(surface) { row, y in
                var j = 4 &* w &* y
                for x in 0..<w {
                    let a = UInt32(p[j &+ 3])
                    func pm(_ c: UInt8) -> UInt32 { (UInt32(c) &* a &+ 127) / 255 }
                    row[x] = (a << 24) | (pm(p[j]) << 16) | (pm(p[j &+ 1]) << 8) | pm(p[j &+ 2])
                    j &+= 4
                }
            }
        }
        return try Cairo.pngBytes(surface)
    }

    /// Compares two pictures channel by channel (R, G, B and A).
    ///
    /// A pixel differs when any channel differs by more than `tolerance`. Pictures of different
    /// sizes are compared over the union of their extents; a pixel present in only one of them
    /// differs with channel difference 255. The diff picture has the union size: differing pixels
    /// are opaque red, the others a dimmed (one third brightness), opaque copy of `a` (or black
    /// where `a` has no pixel).
    public static func compare(_ a: RGBAImage, _ b: RGBAImage, tolerance: UInt8) -> ImageDifference {
        let w = max(a.width, b.width), h = max(a.height, b.height)
        var diff = [UInt8](repeating: 0, count: 4 &* w &* h)
        var count = 0
        var maxDiff: UInt8 = 0
        diff.withUnsafeMutableBufferPointer { d in
            a.pixels.withUnsafeBufferPointer { pa in
                b.pixels.withUnsafeBufferPointer { pb in
                    for y in 0..<h {
                        for x in 0..<w {
                            let o = 4 &* (y &* w &+ x)
                            let inA = x < a.width && y < a.height
                            let inB = x < b.width && y < b.height
                            var pixelMax: UInt8 = 0
                            if inA && inB {
                                let ia = 4 &* (y &* a.width &+ x), ib = 4 &* (y &* b.width &+ x)
                                for c in 0..<4 {
                                    let u = pa[ia &+ c], v = pb[ib &+ c]
                                    let dc = u > v ? u &- v : v &- u
                                    if dc > pixelMax { pixelMax = dc }
                                }
                            } else {
                                pixelMax = 255
                            }
                            if pixelMax > maxDiff { maxDiff = pixelMax }
                            if pixelMax > tolerance {
                                count &+= 1
                                d[o] = 255; d[o &+ 1] = 0; d[o &+ 2] = 0; d[o &+ 3] = 255
                            } else if inA {
                                let ia = 4 &* (y &* a.width &+ x)
                                d[o] = pa[ia] / 3; d[o &+ 1] = pa[ia &+ 1] / 3; d[o &+ 2] = pa[ia &+ 2] / 3
                                d[o &+ 3] = 255
                            } else {
                                d[o &+ 3] = 255
                            }
                        }
                    }
                }
            }
        }
        return ImageDifference(
            differingPixels: count, maxChannelDifference: maxDiff,
            diff: RGBAImage(width: w, height: h, pixels: diff))
    }
}

/// The result of `RGBAImage.compare`.
public struct ImageDifference: Sendable, Equatable {
    /// Pixels whose largest channel difference exceeds the tolerance.
    public let differingPixels: Int
    /// The largest channel difference over all pixels (255 if the sizes differ).
    public let maxChannelDifference: UInt8
    /// Differing pixels in red over a dimmed copy of the first picture.
    public let diff: RGBAImage

    /// True when no pixel differs by more than the tolerance.
    public var isMatch: Bool { differingPixels == 0 }
}
