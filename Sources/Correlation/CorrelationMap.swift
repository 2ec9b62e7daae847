import PeakKit
import Spectral

/// A correlation surface: `values[row * width + col]` is the correlation at the displacement
/// (dx, dy) = (col + originX, row + originY). What the displacement means is said by the routine
/// that made the map (for masked NCC a lag d with fixed(x) ~ moving(x - d); for `NormXCorr2` the
/// position of the template's top-left pixel in the image).
public struct CorrelationMap: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var values: [Double]
    /// Displacement of element (0, 0).
    public var originX: Int
    public var originY: Int

    public init(width: Int, height: Int, values: [Double], originX: Int, originY: Int) {
        precondition(values.count == width * height, "CorrelationMap: \(values.count) values for \(width)x\(height)")
        self.width = width
        self.height = height
        self.values = values
        self.originX = originX
        self.originY = originY
    }

    public subscript(col: Int, row: Int) -> Double { values[row * width + col] }

    /// The value at displacement (dx, dy), or nil outside the map.
    public func value(atDX dx: Int, dy: Int) -> Double? {
        let c = dx - originX, r = dy - originY
        guard c >= 0, r >= 0, c < width, r < height else { return nil }
        return values[r * width + c]
    }

    /// The element with the largest value (first in raster order among equals; NaN never wins),
    /// or nil for an empty map or one without a finite value.
    public func argmax() -> (col: Int, row: Int, value: Double)? {
        values.withUnsafeBufferPointer { p -> (Int, Int, Double)? in
            var best = -Double.infinity, at = -1
            for i in 0..<p.count where p[i] > best { best = p[i]; at = i }
            return at < 0 ? nil : (at % width, at / width, best)
        }.map { (col: $0.0, row: $0.1, value: $0.2) }
    }

    /// The map as a Float image (for pictures and NPY files).
    public var image: Image { Image(width: width, height: height, pixels: values.map { Float($0) }) }
}

/// Which part of a correlation to compute: every displacement with some overlap (`full`), or
/// the displacements of scipy's `same` window (as many as the first input has pixels, centred).
public enum CorrelationMode: String, Sendable, CaseIterable {
    case full, same

    var convolutionMode: ConvolutionMode { self == .full ? .full : .same }
}
