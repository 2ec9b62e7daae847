import CHDF5
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Guards libhdf5 1.10 against a decompression filter that returns fewer bytes than a chunk
/// holds. libhdf5 1.10.8 copies a whole chunk out of the filter's output without checking its
/// length: a corrupt chunk (e.g. a bitshuffle-LZ4 or deflate stream that declares or yields 8
/// bytes for a 256-byte chunk) makes H5Dread overflow the heap (H5VM_memcpyvv; found by
/// FuzzHDF5, Fuzz/Known/FuzzHDF5).
///
/// Every filter libhdf5 can decode (its built-in ones and the filter plugins in its plugin
/// path) is registered again under its own id with a wrapper that calls the original and, while
/// peaks reads a frame, refuses (returns 0, a filter failure: H5Dread fails) an output shorter
/// than the chunk when it is the last filter applied (the first in the pipeline). Chunks that
/// skip that filter (a filter mask) are checked by `HDF5Frames` before reading.
enum HDF5Filters {
    struct Slot {
        let id: H5Z_filter_t
        let original: H5Z_func_t
    }

    /// The wrapped filters (written once, during `install`, under `HDF5.ready`'s lazy init).
    nonisolated(unsafe) static var slots: [Slot] = []
    /// While a frame is read: the pipeline's first filter and the chunk's size in bytes.
    nonisolated(unsafe) static var expected: (filter: H5Z_filter_t, bytes: Int)?
    /// Held around H5Dread (libhdf5 is serialised by its own global lock anyway).
    static let reading = Mutex<Void>(())

    /// Runs `body` (an H5Dread) with the check armed for chunks of `bytes` bytes whose pipeline
    /// starts with `filter`.
    static func reading<T>(filter: H5Z_filter_t?, chunkBytes: Int, _ body: () -> T) -> T {
        reading.withLock { _ in
            if let filter { expected = (filter, chunkBytes) }
            defer { expected = nil }
            return body()
        }
    }

    static func call(_ k: Int, _ flags: UInt32, _ n: Int, _ cd: UnsafePointer<UInt32>?, _ nbytes: Int,
                     _ size: UnsafeMutablePointer<Int>?, _ buf: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int {
        let slot = slots[k]
        let out = slot.original(flags, n, cd, nbytes, size, buf)
        if out != 0, flags & ch5_flag_reverse() != 0, let e = expected, e.filter == slot.id, out < e.bytes {
            return 0
        }
        return out
    }

    /// One C function per slot (a C callback cannot capture which filter it wraps).
    static let functions: [H5Z_func_t] = [
        { call(0, $0, $1, $2, $3, $4, $5) }, { call(1, $0, $1, $2, $3, $4, $5) },
        { call(2, $0, $1, $2, $3, $4, $5) }, { call(3, $0, $1, $2, $3, $4, $5) },
        { call(4, $0, $1, $2, $3, $4, $5) }, { call(5, $0, $1, $2, $3, $4, $5) },
        { call(6, $0, $1, $2, $3, $4, $5) }, { call(7, $0, $1, $2, $3, $4, $5) },
        { call(8, $0, $1, $2, $3, $4, $5) }, { call(9, $0, $1, $2, $3, $4, $5) },
        { call(10, $0, $1, $2, $3, $4, $5) }, { call(11, $0, $1, $2, $3, $4, $5) },
        { call(12, $0, $1, $2, $3, $4, $5) }, { call(13, $0, $1, $2, $3, $4, $5) },
        { call(14, $0, $1, $2, $3, $4, $5) }, { call(15, $0, $1, $2, $3, $4, $5) },
        { call(16, $0, $1, $2, $3, $4, $5) }, { call(17, $0, $1, $2, $3, $4, $5) },
        { call(18, $0, $1, $2, $3, $4, $5) }, { call(19, $0, $1, $2, $3, $4, $5) },
        { call(20, $0, $1, $2, $3, $4, $5) }, { call(21, $0, $1, $2, $3, $4, $5) },
        { call(22, $0, $1, $2, $3, $4, $5) }, { call(23, $0, $1, $2, $3, $4, $5) },
    ]

    /// Wraps libhdf5's built-in filters and every filter plugin found in its plugin path.
    static func install() {
        var classes: [H5Z_class2_t] = []
        for which in 0..<6 {
            if let c = ch5_builtin_filter(Int32(which)) { classes.append(c.pointee) }
        }
        for dir in pluginFolders() {
            guard let d = opendir(dir) else { continue }
            var names: [String] = []
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                if name.hasSuffix(".so") { names.append(name) }
            }
            closedir(d)
            for name in names.sorted() {
                guard let lib = dlopen(dir + "/" + name, RTLD_NOW | RTLD_LOCAL) else { continue }
                typealias TypeFn = @convention(c) () -> Int32
                typealias InfoFn = @convention(c) () -> UnsafeRawPointer?
                guard let t = dlsym(lib, "H5PLget_plugin_type"), let i = dlsym(lib, "H5PLget_plugin_info"),
                      unsafeBitCast(t, to: TypeFn.self)() == 0,  // H5PL_TYPE_FILTER
                      let info = unsafeBitCast(i, to: InfoFn.self)()
                else { continue }
                let c = info.assumingMemoryBound(to: H5Z_class2_t.self).pointee
                guard c.version == 1, !classes.contains(where: { $0.id == c.id }) else { continue }
                classes.append(c)  // the library stays loaded: its functions and name are used
            }
        }
        for c in classes where c.decoder_present != 0 && slots.count < functions.count {
            guard let original = c.filter else { continue }
            var wrapped = c
            wrapped.filter = functions[slots.count]
            slots.append(Slot(id: c.id, original: original))
            if H5Zregister(&wrapped) < 0 { slots.removeLast() }
        }
        _ = HDF5.lastError()
    }

    /// libhdf5's plugin search path (HDF5_PLUGIN_PATH or its built-in default).
    static func pluginFolders() -> [String] {
        var n: UInt32 = 0
        guard H5PLsize(&n) >= 0 else { return [] }
        var out: [String] = []
        for i in 0..<n {
            var buf = [CChar](repeating: 0, count: 4096)
            guard H5PLget(i, &buf, buf.count) > 0 else { continue }
            let path = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            out += path.split(separator: ":").map(String.init)
        }
        return out
    }
}
