// libFuzzer target: the HDF5 reader on arbitrary bytes. Opens the bytes as an in-memory file
// (the library's memory interface), reads every frame (at most 16); errors are expected, crashes,
// hangs and sanitizer reports are bugs. Build and run: see Fuzz/README.md.
#if canImport(Glibc)
import Glibc
#endif
import ImageIO

/// Small frames only: a forged header must fail on the limit, not exhaust the fuzzer's memory.
private let limited: Bool = {
    setenv("PEAKS_MAX_FRAME_BYTES", "16777216", 1)
    return true
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHDF5(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = limited
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let file = try InputFile(bytes: bytes, name: "fuzz.h5")
        let source = try ImageFormat.hdf5.open(file, OpenOptions())
        var buffer = [Float](repeating: 0, count: source.layout.pixelsPerFrame)
        for i in 0..<min(source.layout.frameCount, 16) {
            try buffer.withUnsafeMutableBufferPointer { try source.readFrame(i, into: $0) }
        }
    } catch {}
    return 0
}
