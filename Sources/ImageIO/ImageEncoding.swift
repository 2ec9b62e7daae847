import CPNG
import PeakKit

/// Float images to file bytes (write them with `AtomicFile.write`, or use `ImageFile.write...`).
///
/// Integer conversion: each pixel becomes `v = Double(pixel) * scale + offset`, then NaN -> 0,
/// clipped to the format's range (0...65535 or 0...255; +inf -> max, -inf -> 0), then rounded
/// to the nearest integer with ties away from zero (`.toNearestOrAwayFromZero`: 2.5 -> 3,
/// 0.5 -> 1). With the default `scale: 1, offset: 0` integer-valued pixels in range are stored
/// exactly, so `ImageFile.read` gives back the same image.
public enum ImageEncoding {
    /// A 16-bit gray PNG.
    public static func png16(_ image: Image, scale: Double = 1, offset: Double = 0) throws -> [UInt8] {
        let samples: [UInt16] = quantize(image, scale: scale, offset: offset, max: 65535)
        return try PNGEncoder.gray16(width: image.width, height: image.height, samples: samples)
    }

    /// An 8-bit gray PNG.
    public static func png8(_ image: Image, scale: Double = 1, offset: Double = 0) throws -> [UInt8] {
        let samples: [UInt8] = quantize(image, scale: scale, offset: offset, max: 255)
        return try PNGEncoder.gray8(width: image.width, height: image.height, samples: samples)
    }

    /// The `scale` and `offset` that map `low...high` onto `0...maxValue` (e.g. the image's
    /// finite minimum and maximum onto 0...65535). A constant range maps to 0.
    public static func linearMap(from low: Float, to high: Float, maxValue: Double) -> (scale: Double, offset: Double) {
        let lo = Double(low), hi = Double(high)
        guard lo.isFinite, hi.isFinite, hi > lo else { return (0, 0) }
        let scale = maxValue / (hi - lo)
        return (scale, -lo * scale)
    }

    /// A mask as an 8-bit gray PNG: valid = 255, invalid = 0.
    public static func maskPNG(_ mask: Mask) throws -> [UInt8] {
        try PNGEncoder.gray8(width: mask.width, height: mask.height, samples: mask.isValid.map { $0 ? 255 : 0 })
    }

    /// A float32 NPY file (`'<f4'`, C order, shape (height, width)).
    public static func npyFloat32(_ image: Image) -> [UInt8] {
        NPY.encodeFloat32(image)
    }

    /// The documented conversion to integer samples.
    static func quantize<T: FixedWidthInteger & UnsignedInteger>(
        _ image: Image, scale: Double, offset: Double, max: Double
    ) -> [T] {
        let n = image.count
        return [T](unsafeUninitializedCapacity: n) { out, initialized in
            image.pixels.withUnsafeBufferPointer { p in
                for i in 0..<n {
                    var v = Double(p[i]) * scale + offset
                    if v.isNaN { v = 0 }
                    v = Swift.min(Swift.max(v, 0), max)
                    out[i] = T(v.rounded(.toNearestOrAwayFromZero))
                }
            }
            initialized = n
        }
    }
}

/// Library versions, for run manifests.
public enum LibPNGInfo {
    /// libpng's run-time version, e.g. "1.6.39" (from `png_access_version_number`).
    public static var version: String {
        let v = Int(cpng_libpng_version())
        return "\(v / 10000).\(v / 100 % 100).\(v % 100)"
    }
}
