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
