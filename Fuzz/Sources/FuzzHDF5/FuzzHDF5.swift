import Foundation
import FuzzSupport
import ImageIO

// Two modes, chosen by the input's first byte.
//
// Raw (first byte >= 0x80): the rest of the input is the whole file. Every byte is fuzzed,
// metadata included (superblock, object headers, B-trees, heaps, attributes). libhdf5 1.10.8 is
// not safe on forged metadata (heap overflows, huge allocations, endless loops inside H5Fopen,
// H5Oopen, H5Aexists: Fuzz/Known/FuzzHDF5*), so peaks parses it in a fork()ed child first
// (Sources/CHDF5/probe.h): the child inherits the sanitizers, and a crash, a sanitizer report or a
// hang there is a "corrupt HDF5 metadata" error in this process. A finding in raw mode is a crash
// of this (the parent) process: a path the child survived that the parent did not. Seeds: the
// templates and the Fuzz/Known inputs behind 0x80, and templates with damaged headers
// (Corpus/FuzzHDF5/raw-*.seed, made by make_c_corpus.py).
//
// Template (first byte < 0x80): structure-aware, the byte chooses one of the valid files in
// Fuzz/Templates/FuzzHDF5 (every filter pipeline the system's libhdf5 and plugins decode,
// contiguous and chunked layouts), and the rest overwrites, in order, that file's raw data bytes
// (each chunk's stored bytes, a contiguous dataset's bytes: Templates/FuzzHDF5/regions.txt, made
// by make_hdf5_templates.c), so that mutations reach the chunk reading and every decompression
// filter on corrupt data, and peaks' guards around them (HDF5Filters, chunk checks), instead of
// failing in H5Fopen. See docs/testing.md.

struct Template {
    let bytes: [UInt8]
    let regions: [(offset: Int, length: Int)]
}

let templates: [Template] = {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Templates/FuzzHDF5").standardized
    guard let table = try? String(contentsOf: folder.appendingPathComponent("regions.txt"), encoding: .utf8) else {
        fatalError("FuzzHDF5: no \(folder.path)/regions.txt")
    }
    var regions: [String: [(Int, Int)]] = [:]
    var order: [String] = []
    for line in table.split(separator: "\n") {
        let f = line.split(separator: " ")
        guard f.count == 3, let o = Int(f[1]), let n = Int(f[2]) else { continue }
        let name = String(f[0])
        if regions[name] == nil { order.append(name) }
        regions[name, default: []].append((o, n))
    }
    return order.sorted().map { name in
        guard let data = try? Data(contentsOf: folder.appendingPathComponent(name)) else { fatalError("FuzzHDF5: no template \(name)") }
        return Template(bytes: Array(data), regions: regions[name]!)
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHDF5(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    if data[0] >= 0x80 {
        FuzzSupport.run(data + 1, size - 1, format: .hdf5, name: "fuzz.h5", maxFrameBytes: 16 << 20)
        return 0
    }
    let t = templates[Int(data[0]) % templates.count]
    var bytes = t.bytes
    var i = 1
    for (offset, length) in t.regions where i < size {
        let n = min(length, size - i)
        for k in 0..<n { bytes[offset + k] = data[i + k] }
        i += n
    }
    bytes.withUnsafeBufferPointer {
        FuzzSupport.run($0.baseAddress!, $0.count, format: .hdf5, name: "fuzz.h5", maxFrameBytes: 16 << 20)
    }
    return 0
}
