import Foundation
import ImageIO
import PeakKit
import Testing

/// The files of Tests/ImageIOTests/Fixtures (made by make_c_fixtures.py).
enum Fixture {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    static func bytes(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: folder.appendingPathComponent(name))) }

    /// Every frame of a file, in order.
    static func frames(of source: any FrameSource) throws -> [[Float]] {
        try (0..<source.layout.frameCount).map { try source.frame($0).pixels }
    }

    /// The frames of a reference npy (2-D: one frame; 3-D: a stack; 4-D: a scan).
    static func reference(_ name: String) throws -> [[Float]] {
        try frames(of: ImageFormat.open(path(name)))
    }

    /// reference.npy: the 256x256 image every single-image fixture holds.
    static let image: [Float] = try! reference("reference.npy")[0]
    /// stack.npy: 6 frames of 64x64.
    static let stack: [[Float]] = try! reference("stack.npy")
}

/// Pixels equal, NaN equal to NaN.
func samePixels(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
}

/// Opens `bytes` as an in-memory file with `format` and reads every frame; only PeaksError may
/// come out (for fuzz-style tests).
func openAndReadAll(_ bytes: [UInt8], format: ImageFormat, name: String, options: OpenOptions = .init()) throws {
    let file = try InputFile(bytes: bytes, name: name)
    let source = try format.open(file, options)
    guard source.layout.pixelsPerFrame <= 1 << 22 else { return }
    var buffer = [Float](repeating: 0, count: source.layout.pixelsPerFrame)
    for i in 0..<min(source.layout.frameCount, 64) {
        try buffer.withUnsafeMutableBufferPointer { try source.readFrame(i, into: $0) }
    }
}


/// The committed fixture files (Tests/ImageIOTests/Fixtures, see its README and make_fixtures.py).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ format: String, _ name: String) -> String {
        root.appendingPathComponent(format).appendingPathComponent(name).path
    }

    static func bytes(_ format: String, _ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(format, name))))
    }

    /// `reference.json` of a format's folder: file name → facts written by the reference reader.
    static func reference(_ format: String) throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: root.appendingPathComponent(format).appendingPathComponent("reference.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
    }

    /// Expects every frame of `source` to equal the reference reader's pixels (`NAME.npy`, shape
    /// (frames, rows, columns)) exactly.
    static func expectFramesEqualReference(_ source: any FrameSource, format: String, name: String,
                                           sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ref = try ImageFormat.open(path(format, name + ".npy"))
        #expect(ref.layout.frameCount == source.layout.frameCount, "frames", sourceLocation: sourceLocation)
        #expect(ref.layout.width == source.layout.width && ref.layout.height == source.layout.height,
                "size \(source.layout.width)x\(source.layout.height) vs \(ref.layout.width)x\(ref.layout.height)",
                sourceLocation: sourceLocation)
        guard ref.layout == FrameLayout(width: source.layout.width, height: source.layout.height,
                                        frameCount: source.layout.frameCount, sampleType: ref.layout.sampleType) else { return }
        for i in 0..<source.layout.frameCount {
            let got = try source.frame(i), want = try ref.frame(i)
            let same = zip(got.pixels, want.pixels).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
            let firstDiff = zip(got.pixels, want.pixels).enumerated().first { !($0.1.0 == $0.1.1 || ($0.1.0.isNaN && $0.1.1.isNaN)) }
            #expect(same, "\(name) frame \(i): first difference at \(firstDiff.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "-")",
                    sourceLocation: sourceLocation)
        }
    }

    /// Opens `bytes` as an in-memory file with `format` and reads every frame; returns the error.
    @discardableResult
    static func openAndReadAll(_ bytes: [UInt8], name: String, format: ImageFormat) throws -> (any FrameSource)? {
        let file = try InputFile(bytes: bytes, name: name)
        let source = try format.open(file, OpenOptions())
        for i in 0..<min(source.layout.frameCount, 16) { _ = try source.frame(i) }
        return source
    }

    /// The metadata value for `key`, if any.
    static func meta(_ source: any FrameSource, _ key: String) -> Value? {
        source.metadata.first { $0.0 == key }?.1
    }
}

extension Value {
    var double: Double? {
        switch self {
        case let .number(v): return v
        case let .integer(v): return Double(v)
        default: return nil
        }
    }
}
