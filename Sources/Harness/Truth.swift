#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit

/// Ground-truth files (truth.json).
///
/// Reading accepts any JSON object with a `"peaks"` array of objects holding numbers `"x"` and
/// `"y"` (x = column, y = row, pixel (0, 0) centred at (0.0, 0.0)); `"amplitude"` and `"sigma"`
/// are read when present, every other key is ignored. Writing gives (keys in this order):
///
/// ```json
/// {
///   "schema": "peaks.truth/1",
///   "image": {"width": 512, "height": 512},
///   "center": {"x": 255.1, "y": 256.8},            // or null
///   "png": {"scale": 0.13, "offset": -1.2, "formula": "..."},
///   "generator": {"class": "noisy", "size": 512, "seed": 7, ...model parameters},
///   "count": 131,
///   "peaks": [{"x": .., "y": .., "amplitude": .., "sigma": ..}, ...]
/// }
/// ```
public enum TruthFile {
    public static let schema = "peaks.truth/1"

    /// What a truth file says.
    public struct Contents: Sendable, Equatable {
        public var peaks: [TruthPeak]
        public var center: (x: Double, y: Double)?
        public static func == (a: Contents, b: Contents) -> Bool {
            a.peaks == b.peaks && a.center?.x == b.center?.x && a.center?.y == b.center?.y
        }
    }

    /// The truth.json text of a generated image (deterministic bytes).
    public static func render(_ g: GeneratedImage) -> String {
        var s = "{\n"
        s += "  \"schema\": \(JSONText.quote(schema)),\n"
        s += "  \"image\": \(JSONText.object([("width", .integer(g.image.width)), ("height", .integer(g.image.height))])),\n"
        if let c = g.center {
            s += "  \"center\": \(JSONText.object([("x", .number(c.x)), ("y", .number(c.y))])),\n"
        } else {
            s += "  \"center\": null,\n"
        }
        s += "  \"png\": \(JSONText.object([("scale", .number(g.pngScale)), ("offset", .number(g.pngOffset)), ("formula", .string("png = round(value * scale + offset) clipped to 0...65535; image.npy holds the exact float32 values"))])),\n"
        let generator: [(String, Value)] = [
            ("class", .string(g.synthClass.rawValue)), ("size", .integer(g.size)),
            ("seed", .string(String(g.seed))), ("rng", .string("xoshiro256** seeded by SplitMix64")),
            ("spots", .string("pixel-integrated Gaussians")),
        ] + g.parameters
        s += "  \"generator\": \(JSONText.object(generator)),\n"
        s += "  \"count\": \(g.peaks.count),\n"
        s += peaksArray(g.peaks)
        return s + "}\n"
    }

    static func peaksArray(_ peaks: [TruthPeak]) -> String {
        if peaks.isEmpty { return "  \"peaks\": []\n" }
        let lines = peaks.map { p -> String in
            var e: [(String, Value)] = [("x", .number(p.x)), ("y", .number(p.y))]
            if let a = p.amplitude { e.append(("amplitude", .number(a))) }
            if let s = p.sigma { e.append(("sigma", .number(s))) }
            return "    " + JSONText.object(e)
        }
        return "  \"peaks\": [\n" + lines.joined(separator: ",\n") + "\n  ]\n"
    }

    /// Parses truth.json bytes; `path` names the file in errors.
    /// - Throws: `PeaksError.file` when the bytes are not JSON, not an object, lack a `peaks`
    ///   array, or a peak lacks finite numbers `x` and `y`.
    public static func parse(_ bytes: [UInt8], path: String) throws -> Contents {
        let top: JSONValue
        do {
            top = try JSONValue.parse(bytes)
        } catch {
            throw PeaksError.file(path: path, reason: "not valid JSON")
        }
        guard top.object != nil else {
            throw PeaksError.file(path: path, reason: "a truth file must be a JSON object with a \"peaks\" array")
        }
        guard let list = top["peaks"]?.array else {
            throw PeaksError.file(path: path, reason: "no \"peaks\" array")
        }
        var peaks: [TruthPeak] = []
        for (i, p) in list.enumerated() {
            // `number` is nil for true/false, strings and non-finite values: not coordinates.
            guard let x = p["x"]?.number, let y = p["y"]?.number else {
                throw PeaksError.file(path: path, reason: "peak \(i) needs numbers \"x\" and \"y\"")
            }
            peaks.append(TruthPeak(x: x, y: y, amplitude: p["amplitude"]?.number, sigma: p["sigma"]?.number))
        }
        var center: (x: Double, y: Double)? = nil
        if let x = top["center"]?["x"]?.number, let y = top["center"]?["y"]?.number { center = (x, y) }
        return Contents(peaks: peaks, center: center)
    }
}
