#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ImageIO

/// One fuzz input: opened as an in-memory file with `format` (and through format detection),
/// every frame (up to 64) read as pixels and as a mask. Errors are the expected outcome for most
/// inputs; only a crash, a hang, a leak or a sanitizer report is a finding.
public enum FuzzSupport {
    /// Frames larger than `maxFrameBytes` (default 64 MB) are refused before allocation (a forged
    /// header may declare 100000 x 100000); set on the first input (one target per process).
    nonisolated(unsafe) static var limitSet = false

    public static func run(_ data: UnsafePointer<UInt8>, _ size: Int, format: ImageFormat, name: String,
                           maxFrameBytes: Int = 64 << 20) {
        if !limitSet {
            setenv("PEAKS_MAX_FRAME_BYTES", String(maxFrameBytes), 1)
            limitSet = true
        }
        let bytes = Array(UnsafeBufferPointer(start: data, count: size))
        guard let file = try? InputFile(bytes: bytes, name: name) else { return }
        _ = try? ImageFormat.detect(file)
        guard let source = try? format.open(file, OpenOptions()) else { return }
        let layout = source.layout
        guard layout.pixelsPerFrame >= 0 else { return }
        var pixels = [Float](repeating: 0, count: layout.pixelsPerFrame)
        var valid = [Bool](repeating: false, count: layout.pixelsPerFrame)
        for i in 0..<min(layout.frameCount, 64) {
            _ = try? pixels.withUnsafeMutableBufferPointer { try source.readFrame(i, into: $0) }
            _ = try? valid.withUnsafeMutableBufferPointer { try source.readMaskFrame(i, into: $0) }
        }
        _ = source.metadata
    }
}
