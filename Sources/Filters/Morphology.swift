import PeakKit

/// Erosion and dilation with a disk footprint, for grey images (minimum / maximum filters) and
/// binary masks.
///
/// Footprint: the pixels (dx, dy) with `dx^2 + dy^2 <= r^2` (so radius 1 is the 3x3 cross,
/// radius 1.5 the full 3x3 square, radius 2 a 13-pixel disk). A radius that is 0, negative or NaN
/// gives the single centre pixel (the identity); radii beyond `width + height` act like
/// `width + height` (the footprint already covers the whole image from every pixel).
///
///     erode(I)(x, y)  = min { I(x + dx, y + dy) : (dx, dy) in disk, inside the image }
///     dilate(I)(x, y) = max { I(x + dx, y + dy) : (dx, dy) in disk, inside the image }
///
/// Borders:
/// - grey images: pixels outside the image are ignored (the footprint is clipped);
/// - binary dilation: outside counts as false (the same as ignoring it);
/// - binary erosion: outside counts as false by default (`outsideIsTrue: false`, scipy's
///   `border_value=0`), so every pixel closer than `floor(r)` to the image edge becomes false:
///   a mask of valid pixels shrinks away from the edge as well as from invalid pixels. Pass
///   `outsideIsTrue: true` to ignore the outside instead (skimage's binary_erosion behaviour).
///
/// NaN pixels never win a comparison, so they are ignored; a footprint holding only NaNs gives
/// +infinity (erosion) or -infinity (dilation).
///
/// Algorithm: the disk is a stack of row segments of half-width `hw(dy) = floor(sqrt(r^2 - dy^2))`.
/// For each source row the 1-D minima over windows of half-width k = 0, 1, 2, ... are built
/// incrementally (`m_k(x) = min(m_{k-1}(x), I(x - k), I(x + k))`), and each output row takes the
/// minimum of `m_{hw(dy)}` of its rows y + dy. Cost O(N r), memory O(r width) per band of rows;
/// bands run in parallel, results identical whatever the number of threads. Binary masks go
/// through the same filter as 0/1 values (erosion = AND, dilation = OR).
public enum Morphology {
    /// `floor(sqrt(r^2 - dy^2))` for dy = -R...R, R = floor(r) (index dy + R), exact in integers.
    public static func diskHalfWidths(radius: Double, limit: Int = Int.max) -> [Int] {
        guard radius > 0 else { return [0] }
        let r = min(radius, Double(max(0, limit)))
        let big = Int(r.rounded(.down))
        let r2 = r * r
        return (-big...big).map { dy in
            var k = Int((max(0, r2 - Double(dy * dy))).squareRoot())
            while k > 0 && Double(k * k + dy * dy) > r2 { k -= 1 }
            while Double((k + 1) * (k + 1) + dy * dy) <= r2 { k += 1 }
            return k
        }
    }

    /// The footprint's offsets, in raster order (dy, then dx ascending).
    public static func diskOffsets(radius: Double) -> [(dx: Int, dy: Int)] {
        let hw = diskHalfWidths(radius: radius)
        let big = hw.count / 2
        var out: [(dx: Int, dy: Int)] = []
        for dy in -big...big { for dx in -hw[dy + big]...hw[dy + big] { out.append((dx, dy)) } }
        return out
    }

    /// Grey erosion: the minimum over the disk (outside ignored).
    public static func erode(_ image: Image, radius: Double) -> Image {
        var out = image
        out.pixels = minFilter(image.pixels, width: image.width, height: image.height, radius: radius)
        return out
    }

    /// Grey dilation: the maximum over the disk (outside ignored).
    public static func dilate(_ image: Image, radius: Double) -> Image {
        var out = image
        out.pixels = minFilter(image.pixels.map { -$0 }, width: image.width, height: image.height, radius: radius)
            .map { -$0 }
        return out
    }

    /// Binary erosion of a row-major [Bool] of `width * height`: true where every footprint pixel
    /// is true. See the type's notes for `outsideIsTrue` (default false).
    public static func erode(_ values: [Bool], width: Int, height: Int, radius: Double, outsideIsTrue: Bool = false) -> [Bool] {
        precondition(values.count == width * height, "mask count \(values.count) != \(width)x\(height)")
        let filtered = minFilter(values.map { $0 ? 1 : 0 }, width: width, height: height, radius: radius)
        var out = filtered.map { $0 > 0.5 }
        if !outsideIsTrue {
            let big = diskHalfWidths(radius: radius, limit: width + height).count / 2
            if big > 0 {
                for y in 0..<height {
                    for x in 0..<width where x < big || y < big || x >= width - big || y >= height - big {
                        out[y * width + x] = false
                    }
                }
            }
        }
        return out
    }

    /// Binary dilation of a row-major [Bool]: true where any footprint pixel is true.
    public static func dilate(_ values: [Bool], width: Int, height: Int, radius: Double) -> [Bool] {
        precondition(values.count == width * height, "mask count \(values.count) != \(width)x\(height)")
        let filtered = minFilter(values.map { $0 ? -1 : 0 }, width: width, height: height, radius: radius)
        return filtered.map { $0 < -0.5 }
    }

    /// Binary erosion of a mask (true = set). See `erode(_:width:height:radius:outsideIsTrue:)`.
    public static func erode(_ mask: Mask, radius: Double, outsideIsTrue: Bool = false) -> Mask {
        Mask(width: mask.width, height: mask.height,
             isValid: erode(mask.isValid, width: mask.width, height: mask.height, radius: radius, outsideIsTrue: outsideIsTrue))
    }

    /// Binary dilation of a mask (true = set).
    public static func dilate(_ mask: Mask, radius: Double) -> Mask {
        Mask(width: mask.width, height: mask.height,
             isValid: dilate(mask.isValid, width: mask.width, height: mask.height, radius: radius))
    }

    /// The disk minimum filter (outside ignored).
    static func minFilter(_ pixels: [Float], width w: Int, height h: Int, radius: Double) -> [Float] {
        if pixels.isEmpty { return pixels }
        let hw = diskHalfWidths(radius: radius, limit: w + h)
        let big = hw.count / 2
        if big == 0 { return pixels }
        var out = [Float](repeating: .infinity, count: pixels.count)
        let bandRows = max(32, 2 * big)
        let bands = (h + bandRows - 1) / bandRows
        let kCap = min(big, w)  // half-widths >= w - 1 already span the row
        pixels.withUnsafeBufferPointer { sBuffer in
            out.withUnsafeMutableBufferPointer { oBuffer in
                hw.withUnsafeBufferPointer { hwb in
                    let src = SharedPointer(sBuffer.baseAddress!), dst = SharedPointer(oBuffer.baseAddress!)
                    let half = SharedPointer(hwb.baseAddress!)
                    Parallel.forEach(bands) { band in
                        let y0 = band * bandRows, y1 = min(h, y0 + bandRows)
                        var mins = [Float](repeating: 0, count: (kCap + 1) * w)
                        mins.withUnsafeMutableBufferPointer { mb in
                            let m = mb.baseAddress!
                            for s in max(0, y0 - big)...min(h - 1, y1 - 1 + big) {
                                // Largest half-width this source row serves.
                                let dyNearest = s < y0 ? y0 - s : (s >= y1 ? s - (y1 - 1) : 0)
                                let kNeeded = min(kCap, half[dyNearest + big])
                                let row = src.base + s &* w
                                for x in 0..<w { m[x] = row[x] }
                                if kNeeded > 0 {
                                    for k in 1...kNeeded {
                                        let prev = m + (k &- 1) &* w, cur = m + k &* w
                                        for x in 0..<w {
                                            var v = prev[x]
                                            if x >= k { let a = row[x &- k]; if a < v || v != v { v = a } }
                                            if x &+ k < w { let b = row[x &+ k]; if b < v || v != v { v = b } }
                                            cur[x] = v
                                        }
                                    }
                                }
                                for y in max(y0, s - big)..<min(y1, s + big + 1) {
                                    let k = min(kCap, half[s &- y &+ big])
                                    let seg = m + k &* w, o = dst.base + y &* w
                                    for x in 0..<w { let v = seg[x]; if v < o[x] { o[x] = v } }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
