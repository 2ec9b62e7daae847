import FuzzSupport
import ImageIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDM(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzSupport.run(data, size, format: .dm, name: "fuzz.dm4")
    return 0
}
