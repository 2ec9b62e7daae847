import FuzzSupport
import ImageIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMRC(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzSupport.run(data, size, format: .mrc, name: "fuzz.mrc")
    return 0
}
