import FuzzSupport
import ImageIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzSupport.run(data, size, format: .npy, name: "fuzz.npy")
    return 0
}
