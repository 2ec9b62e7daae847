import FuzzSupport
import ImageIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzSupport.run(data, size, format: .png, name: "fuzz.png")
    return 0
}
