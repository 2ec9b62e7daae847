import PeakKit
import Testing
@testable import Rendering

/// 64x48 noise-free test image: background 10, gaussian spots of height 100 at the peaks.
func spotImage(peaks: [(Int, Int)], width: Int = 64, height: Int = 48) -> Image {
    Image(width: width, height: height) { x, y in
        var v: Float = 10
        for (px, py) in peaks {
            let d2 = Float((x - px) * (x - px) + (y - py) * (y - py))
            v += 100 * expf(-d2 / 4)
        }
        return v
    }
}

#if canImport(Glibc)
import Glibc
#endif

@Suite struct OverlayTests {
    let spots = [(10, 20), (40, 8), (55, 40)]
    var peaks: [Peak] { spots.map { Peak(x: Double($0.0), y: Double($0.1), value: 110, strength: 100) } }

    @Test func sizeIsTitleBarPlusScaledImage() throws {
        let image = spotImage(peaks: spots)
        let png = try Overlay.png(image: image, mask: nil, peaks: peaks, title: "test: 3 peaks in spots.png")
        let decoded = try RGBAImage.decodePNG(png)
        // ceil(512 / 64) = 8: 512 x 384 image under a 28-pixel title bar.
        let layout = try OverlayLayout(imageWidth: 64, imageHeight: 48)
        #expect(layout.scaleX == 8 && layout.scaleY == 8)
        #expect(decoded.width == 512)
        #expect(decoded.height == 28 + 384)
        #expect(layout.canvasWidth == 512 && layout.canvasHeight == 412)
        // Title bar: some light text pixels on the dark bar.
        var bright = 0
        for y in 0..<28 { for x in 0..<512 where decoded[x, y].r > 150 { bright += 1 } }
        #expect(bright > 50, "title text pixels: \(bright)")
    }

    @Test func markersSitOnPeaksAndBackgroundIsGrey() throws {
        let image = spotImage(peaks: spots)
        let options = OverlayOptions()
        let png = try Overlay.png(image: image, mask: nil, peaks: peaks, title: "markers", stretch: .linear, options: options)
        let d = try RGBAImage.decodePNG(png)
        let layout = try OverlayLayout(imageWidth: 64, imageHeight: 48, options: options)
        let marker = options.markerColour.rgba8
        for (x, y) in spots {
            let s = layout.screenPixel(x: Double(x), y: Double(y))
            // Pixel (x, y) spans screen [8x, 8x+8) + origin: its centre is at 8x + 4.
            #expect(s.x == 8 * x + 4 && s.y == 28 + 8 * y + 4)
            #expect(d[s.x, s.y] == marker, "at peak (\(x), \(y)): \(d[s.x, s.y])")
            // The ring passes 5.5 px right of the centre: a yellowish pixel there.
            let ring = d[s.x + 5, s.y]
            #expect(Int(ring.r) > Int(ring.b) + 60, "ring pixel \(ring)")
        }
        // Far from any peak: plain grey, and the background level (10 -> 0 under linear).
        let far = d[layout.screenPixel(x: 30, y: 30).x, layout.screenPixel(x: 30, y: 30).y]
        #expect(far.isGrey && far.a == 255)
        // A spot's neighbourhood without a marker is grey too (no peak passed for it).
        let bare = try RGBAImage.decodePNG(Overlay.png(image: image, mask: nil, peaks: [], title: "none", stretch: .linear))
        let c = layout.screenPixel(x: 10, y: 20)
        #expect(bare[c.x, c.y].isGrey && bare[c.x, c.y].r == 255)
    }

    @Test func subpixelPeaksAndBlobRadii() throws {
        let image = spotImage(peaks: spots)
        let p = [Peak(x: 20.25, y: 30.75, value: 1, strength: 1)]
        let d = try RGBAImage.decodePNG(Overlay.png(image: image, mask: nil, peaks: p, radii: [4], title: "blob"))
        let layout = try OverlayLayout(imageWidth: 64, imageHeight: 48)
        let c = layout.screenPoint(x: 20.25, y: 30.75)
        #expect(c.x == 8 * 20.25 + 4 && c.y == 28 + 8 * 30.75 + 4)
        let marker = OverlayOptions().markerColour.rgba8
        #expect(d[Int(c.x), Int(c.y)] == marker)
        // Ring of radius 4 image pixels = 32 screen pixels.
        let ring = d[Int(c.x + 32 - 0.5), Int(c.y)]
        #expect(Int(ring.r) > Int(ring.b) + 60, "ring pixel \(ring)")
        #expect(d[Int(c.x + 16), Int(c.y)].isGrey)
        // Radii count must match.
        #expect(throws: PeaksError.self) {
            try Overlay.png(image: image, mask: nil, peaks: p, radii: [1, 2], title: "x")
        }
    }

    @Test func identicalInputsGiveIdenticalBytes() throws {
        let image = spotImage(peaks: spots)
        let mask = Mask(width: 64, height: 48) { x, _ in x > 3 }
        let a = try Overlay.png(image: image, mask: mask, peaks: peaks, title: "persistence: 3 peaks in a.png")
        let b = try Overlay.png(image: image, mask: mask, peaks: peaks, title: "persistence: 3 peaks in a.png")
        #expect(a == b)
        #expect(Array(a.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    }

    @Test func maskedPixelsAreTinted() throws {
        let image = spotImage(peaks: spots)
        // Invalid: the left 8 columns.
        let mask = Mask(width: 64, height: 48) { x, _ in x >= 8 }
        let options = OverlayOptions()
        let d = try RGBAImage.decodePNG(Overlay.png(image: image, mask: mask, peaks: [], title: "mask", stretch: .linear, options: options))
        let layout = try OverlayLayout(imageWidth: 64, imageHeight: 48, options: options)
        let inside = layout.screenPixel(x: 3, y: 30), outside = layout.screenPixel(x: 30, y: 30)
        let t = d[inside.x, inside.y], g = d[outside.x, outside.y]
        #expect(!t.isGrey && t.r > t.g && t.b > t.g, "masked pixel \(t)")
        #expect(g.isGrey)
        // Background grey level 0 under linear: tint over black = 0.45 x (255, 0, 115).
        #expect(abs(Int(t.r) - 115) <= 2 && t.g == 0 && abs(Int(t.b) - 52) <= 2, "\(t)")
        // Shape mismatch is an error.
        #expect(throws: PeaksError.self) {
            try Overlay.png(image: image, mask: Mask(width: 10, height: 10), peaks: [], title: "x")
        }
    }

    @Test func constantAndAllMaskedImagesRender() throws {
        let constant = Image(width: 20, height: 10, repeating: 3)
        let d = try RGBAImage.decodePNG(Overlay.png(image: constant, mask: nil, peaks: [], title: "constant"))
        let layout = try OverlayLayout(imageWidth: 20, imageHeight: 10)
        let p = layout.screenPixel(x: 5, y: 5)
        #expect(d[p.x, p.y] == RGBA(r: 128, g: 128, b: 128))

        let nan = Image(width: 20, height: 10, repeating: .nan)
        let dn = try RGBAImage.decodePNG(Overlay.png(image: nan, mask: Mask(width: 20, height: 10, allValid: false), peaks: [], title: "nan"))
        let q = dn[p.x, p.y]
        #expect(!q.isGrey && q.g == 0, "all masked, all NaN: black under the tint, got \(q)")
        #expect(dn.width == d.width && dn.height == d.height)
        // Empty image: an error, not a crash.
        #expect(throws: PeaksError.self) {
            try Overlay.png(image: Image(width: 0, height: 0), mask: nil, peaks: [], title: "empty")
        }
    }

    @Test func layoutLimits() throws {
        // Wide image: reduced so the longer side is 2048.
        let big = try OverlayLayout(imageWidth: 4096, imageHeight: 1000)
        #expect(big.scaledWidth == 2048 && big.scaledHeight == 500 && big.isReduced)
        // Mid-size: left alone.
        let mid = try OverlayLayout(imageWidth: 700, imageHeight: 300)
        #expect(mid.scaleX == 1 && mid.scaledWidth == 700)
        // Tall thin image: enlarged only as far as the 2048 cap allows.
        let tall = try OverlayLayout(imageWidth: 10, imageHeight: 1000)
        #expect(tall.scaleX == 2 && tall.scaledHeight == 2000 && tall.canvasWidth == 320 && tall.originX == 150)
        // Reduced rendering really comes out at the capped size.
        let wide = Image(width: 3000, height: 90) { x, y in Float((x * 7 + y * 3) % 17) }
        let d = try RGBAImage.decodePNG(Overlay.png(image: wide, mask: nil, peaks: [Peak(x: 1500, y: 45, value: 0, strength: 0)], title: "wide"))
        #expect(d.width == 2048 && d.height == 28 + 61)
    }
}

extension Mask {
    init(width: Int, height: Int, _ f: (Int, Int) -> Bool) {
        var v = [Bool]()
        for y in 0..<height { for x in 0..<width { v.append(f(x, y)) } }
        self.init(width: width, height: height, isValid: v)
    }
}
