import FuzzSupport
import ImageIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMIB(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzSupport.run(data, size, format: .mib, name: "fuzz.mib")
    return 0
}
