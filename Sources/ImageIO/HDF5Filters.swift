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
        if flags & ch5_flag_reverse() != 0, slot.id == 307 {
            return bzip2(nbytes, size, buf)
        }
        if flags & ch5_flag_reverse() != 0, slot.id == 5 || slot.id == 6 {
            // libhdf5's nbit and scaleoffset decoders read as many input bytes as the element
            // count and bit widths say, without comparing with the chunk's bytes.
            guard let input = buf?.pointee, nbytes >= 0,
                  PackedBitsCheck.filterInput(id: slot.id, UnsafeRawBufferPointer(start: input, count: nbytes),
                                              cd: cd.map { Array(UnsafeBufferPointer(start: $0, count: n)) } ?? [])
            else { return 0 }
        }
        if flags & ch5_flag_reverse() != 0, slot.id == 32008 || slot.id == 32004 {
            // Both plugins decode with LZ4_decompress_fast, which trusts its input: the stream
            // is walked first (LZ4Check) and a malformed one fails the filter.
            guard let input = buf?.pointee, nbytes >= 0,
                  LZ4Check.filterInput(id: slot.id, UnsafeRawBufferPointer(start: input, count: nbytes),
                                       cd: cd.map { Array(UnsafeBufferPointer(start: $0, count: n)) } ?? [])
            else { return 0 }
        }
        let out = slot.original(flags, n, cd, nbytes, size, buf)
        if out != 0, flags & ch5_flag_reverse() != 0, let e = expected, e.filter == slot.id, out < e.bytes {
            return 0
        }
        return out
    }

    typealias BZ2Decompress = @convention(c) (UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<UInt32>?,
                                              UnsafeMutablePointer<CChar>?, UInt32, Int32, Int32) -> Int32
    /// libbz2's one-shot decoder (the library the bzip2 plugin links; loaded by name).
    static let bz2: BZ2Decompress? = {
        guard let lib = dlopen("libbz2.so.1.0", RTLD_NOW | RTLD_LOCAL) ?? dlopen("libbz2.so.1", RTLD_NOW | RTLD_LOCAL),
              let f = dlsym(lib, "BZ2_bzBuffToBuffDecompress") else { return nil }
        return unsafeBitCast(f, to: BZ2Decompress.self)
    }()

    /// Decodes a bzip2 chunk (filter 307) instead of the plugin, whose loop never ends when a
    /// corrupt stream runs out of input before its end (a hang, found by FuzzHDF5) and which
    /// leaks libbz2's state on errors. One bounded call into an output the size of the chunk
    /// (plus 1 KiB for a checksum filter below it); a larger output fails.
    static func bzip2(_ nbytes: Int, _ size: UnsafeMutablePointer<Int>?, _ buf: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int {
        guard let bz2, let e = expected, let buf, let input = buf.pointee, nbytes > 0, nbytes <= Int(UInt32.max) else { return 0 }
        let capacity = e.bytes + 1024
        guard capacity <= Int(UInt32.max), let out = H5allocate_memory(capacity, false) else { return 0 }
        var length = UInt32(capacity)
        let rc = bz2(out.assumingMemoryBound(to: CChar.self), &length, input.assumingMemoryBound(to: CChar.self), UInt32(nbytes), 0, 0)
        guard rc == 0 else {  // BZ_OK
            H5free_memory(out)
            return 0
        }
        H5free_memory(input)
        buf.pointee = out
        size?.pointee = capacity
        return Int(length)
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
            // H5Zregister refuses to replace the predefined filters (ids below 256); libhdf5's
            // own H5Z_register, exported by the 1.10 shared library, replaces them.
            let ok = c.id < 256 ? (internalRegister?(&wrapped) ?? -1) >= 0 : H5Zregister(&wrapped) >= 0
            if !ok { slots.removeLast() }
        }
        _ = HDF5.lastError()
    }

    typealias Register = @convention(c) (UnsafePointer<H5Z_class2_t>) -> herr_t
    static let internalRegister: Register? = {
        guard let me = dlopen(nil, RTLD_NOW), let f = dlsym(me, "H5Z_register") else { return nil }
        return unsafeBitCast(f, to: Register.self)
    }()

    /// The ids of the filters whose output is checked (for the tests and docs).
    static var wrapped: [H5Z_filter_t] { _ = HDF5.ready; return slots.map(\.id) }

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

/// Walks the chunk streams of the bitshuffle-LZ4 (32008) and LZ4 (32004) filter plugins the
/// way the plugins (bitshuffle 0.3.5's `bshuf_h5_filter`, the HDF Group's H5Zlz4.c) will, with
/// every read bounds-checked, and each LZ4 block the way `LZ4_decompress_fast` parses it. Only
/// streams that are well-formed LZ4 (the block format's rules: the last sequence is at least 5
/// literals, the last match starts at least 12 bytes before the end) and that exactly fill
/// their declared sizes pass; for those, the plugins read and write only inside their buffers.
enum LZ4Check {
    static func u32(_ b: UnsafeRawBufferPointer, _ i: Int) -> Int? {
        guard i >= 0, i + 4 <= b.count else { return nil }
        return (0..<4).reduce(0) { $0 << 8 | Int(b[i + $1]) }
    }

    static func u64(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt64? {
        guard i >= 0, i + 8 <= b.count else { return nil }
        return (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(b[i + $1]) }
    }

    /// A declared decoded size above the chunk's (plus 1 MiB for filters below) is forged.
    static var maxChunk: UInt64 { UInt64(HDF5Filters.expected?.bytes ?? 0) + (1 << 20) }

    static func filterInput(id: H5Z_filter_t, _ b: UnsafeRawBufferPointer, cd: [UInt32]) -> Bool {
        if id == 32008 {
            // cd: [major, minor, element size, block size, compression (2 = LZ4)].
            guard cd.count >= 3, cd[2] > 0 else { return false }
            let elem = Int(cd[2])
            guard cd.count > 4, cd[4] == 2 else { return b.count % elem == 0 }
            guard let total = u64(b, 0), total <= maxChunk, let blockBytes = u32(b, 8) else { return false }
            let size = Int(total) / elem
            var block = blockBytes / elem
            if block == 0 { block = max(8192 / elem / 8 * 8, 128) }
            guard block % 8 == 0 else { return true }  // the plugin refuses it itself
            var p = 12
            let last = size % block - size % block % 8
            for k in 0..<(size / block + (last > 0 ? 1 : 0)) {
                let n = k < size / block ? block : last
                guard let nb = u32(b, p), p + 4 + nb <= b.count,
                      lz4Block(UnsafeRawBufferPointer(rebasing: b[(p + 4)..<(p + 4 + nb)]), produces: n * elem)
                else { return false }
                p += 4 + nb
            }
            return p + size % 8 * elem <= b.count
        }
        // H5Zlz4: original size (8 bytes), block size (4), then blocks: compressed size (4) + data;
        // a block whose compressed size equals its size is stored as is.
        guard let total = u64(b, 0), total <= maxChunk, var block = u32(b, 8) else { return false }
        let original = Int(total)
        if block > original { block = original }
        guard block > 0 || original == 0 else { return false }  // the plugin would loop forever
        var p = 12, done = 0
        while done < original {
            let n = min(block, original - done)
            guard let nc = u32(b, p), p + 4 + nc <= b.count else { return false }
            if nc != n, !lz4Block(UnsafeRawBufferPointer(rebasing: b[(p + 4)..<(p + 4 + nc)]), produces: n) {
                return false
            }
            p += 4 + nc
            done += n
        }
        return true
    }

    /// True when `src` is one well-formed LZ4 block that decodes to exactly `n` bytes and ends
    /// exactly at its end.
    static func lz4Block(_ src: UnsafeRawBufferPointer, produces n: Int) -> Bool {
        var ip = 0, op = 0
        let len = src.count
        while true {
            guard ip < len else { return false }
            let token = Int(src[ip]); ip += 1
            var lit = token >> 4
            if lit == 15 {
                while true {
                    guard ip < len else { return false }
                    let x = Int(src[ip]); ip += 1
                    lit += x
                    if x != 255 { break }
                }
            }
            guard ip + lit <= len, op + lit <= n else { return false }
            ip += lit
            op += lit
            if op == n { return ip == len }
            guard op <= n - 12, ip + 2 <= len else { return false }
            let offset = Int(src[ip]) | Int(src[ip + 1]) << 8
            ip += 2
            guard offset >= 1, offset <= op else { return false }
            var ml = token & 15
            if ml == 15 {
                while true {
                    guard ip < len else { return false }
                    let x = Int(src[ip]); ip += 1
                    ml += x
                    if x != 255 { break }
                }
            }
            ml += 4
            guard op + ml <= n - 5 else { return false }
            op += ml
        }
    }
}

/// The input sizes libhdf5 1.10.8's nbit (5) and scaleoffset (6) decoders assume: checked
/// before they run (H5Z__filter_nbit, H5Z__filter_scaleoffset: found by FuzzHDF5, a 128-byte
/// read past a short scaleoffset chunk).
enum PackedBitsCheck {
    static func filterInput(id: H5Z_filter_t, _ b: UnsafeRawBufferPointer, cd: [UInt32]) -> Bool {
        if id == 5 {
            // cd: nparms, need-not-compress, element count, class (1 = atomic), size, order,
            // precision, offset. Nothing to decode when the type needs all its bits.
            guard cd.count >= 3 else { return false }
            if cd[1] != 0 { return true }
            guard cd.count >= 8, cd[3] == 1, cd[6] >= 1, cd[6] <= cd[4] * 8 else { return false }
            let bits = Int(cd[2]) * Int(cd[6])
            return b.count >= (bits + 7) / 8
        }
        // cd: scale type, factor, element count, class, size, sign, order, fill available, ...
        // Input: minbits (4 bytes, little-endian), minval size (1), minval (16), then the bits.
        guard cd.count >= 8, b.count >= 21 else { return false }
        let minbits = Int(b[0]) | Int(b[1]) << 8 | Int(b[2]) << 16 | Int(b[3]) << 24
        let size = Int(cd[4]), count = Int(cd[2])
        guard b[4] <= 8, size >= 1, size <= 8, minbits <= size * 8 else { return false }
        let needed = minbits == size * 8 ? count * size : (count * minbits + 7) / 8
        return b.count >= 21 + needed
    }
}
