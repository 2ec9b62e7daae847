import FuzzSupport
import ImageIO

// The reader over a C library; frames above 16 MB are refused (a forged size must fail on the
// limit, not spend the run allocating). See docs/testing.md.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHDF5(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzSupport.run(data, size, format: .hdf5, name: "fuzz.h5", maxFrameBytes: 16 << 20)
    return 0
}
