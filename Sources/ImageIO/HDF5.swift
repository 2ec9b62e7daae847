import CHDF5
import PeakKit
import Synchronization

/// HDF5 through libhdf5 (serial, thread-safe build; filters from the system plugin folder:
/// gzip, szip, LZ4, bitshuffle-LZ4, LZF, BZIP2).
///
/// Which dataset: `--dataset /path` when given; else the NeXus default (root `@default` → the
/// entry's `@default` → an NXdata group's `@signal`; without a root `@default`, `/entry@default`);
/// else the only dataset with 2 to 4 dimensions; else an error listing the candidates.
/// Shapes: (h, w) = one image, (n, h, w) = a stack, (scan_y, scan_x, h, w) = a scan. Elements:
/// any integer or float type (either byte order), converted by HDF5 to native float. Frames are
/// read one at a time (a hyperslab per frame); HDF5's chunk cache is sized to hold one frame's
/// row of chunks, so chunks spanning several frames are decompressed once per pass.
public enum HDF5 {
    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The signature at byte 0, 512 or 1024 (a user block before the superblock).
    static func recognize(_ head: [UInt8]) -> Recognition {
        for offset in [0, 512, 1024] where head.count >= offset + 8 {
            if Array(head[offset..<(offset + 8)]) == signature { return .strong }
        }
        return .no
    }

    static let imageSerial = Atomic<Int>(0)

    static let ready: Bool = {
        H5open()
        // Silence first: re-registering a predefined filter fails, and libhdf5 would print a
        // diagnostic for it on standard error.
        ch5_silence()
        HDF5Filters.install()
        return true
    }()

    /// Loads and initialises the library (libhdf5 is loaded on first use:
    /// Sources/_PeaksLazyLibraries) and silences its error printing for the calling thread.
    static func prepare(_ path: String) throws {
        if let reason = ch5_load() { throw PeaksError.file(path: path, reason: String(cString: reason)) }
        _ = ready
        ch5_silence()
    }

    /// The innermost message of the calling thread's error stack.
    static func lastError() -> String {
        var m = ch5_message()
        ch5_last_error(&m)
        let text = withUnsafeBytes(of: &m.text) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
        return line.isEmpty ? "HDF5 failed without a message" : line
    }
}

/// An hid_t closed with its own function when released.
final class H5ID: @unchecked Sendable {
    let id: hid_t
    private let close: (hid_t) -> herr_t
    init?(_ id: hid_t, close: @escaping (hid_t) -> herr_t) {
        guard id >= 0 else { return nil }
        self.id = id
        self.close = close
    }
    deinit { _ = close(id) }
}

final class HDF5Frames: FrameSource {
    let path: String
    let formatName = "HDF5"
    let layout: FrameLayout
    let metadata: [(String, Value)]
    let dataset: String
    private let file: H5ID
    private let data: H5ID
    private let frameShape: (h: Int, w: Int)
    private let rank: Int
    /// Bytes kept alive for an in-memory file (HDF5 copies them; kept for clarity of lifetime).
    private let rowsInFile: [Int]
    /// A filtered chunked dataset: the chunk shape, its size in bytes, the pipeline's first filter
    /// (the last one undone on reading) and the number of filters (see HDF5Filters).
    private let chunkShape: [Int]
    private let chunkBytes: Int
    private let firstFilter: H5Z_filter_t?
    private let filterCount: Int
    private let fileSize: UInt64

    init(file input: InputFile, options: OpenOptions) throws {
        try HDF5.prepare(input.path)
        path = input.path
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: input.path, reason: reason) }
        // Parse the metadata in a child process first (HDF5Probe.swift): it opens the file and
        // chooses the dataset; a crash or a hang there stops here, before this process parses it.
        let wanted = options.dataset.map { $0.hasPrefix("/") ? $0 : "/" + $0 }
        let bytes: [UInt8]? = input.isOnDisk ? nil : try input.all(limit: Int.max)
        // The core driver identifies files without a backing store by name: two file images open
        // under one name would be taken for the same file.
        let name = bytes == nil ? input.path : "peaks-memory-\(HDF5.imageSerial.add(1, ordering: .relaxed).newValue).h5"
        let inspection = try bytes.withUnsafeBytesIfAny {
            try HDF5Inspection.run(path: input.path, name: name, image: $0, wanted: wanted)
        }
        if let message = inspection.openError { throw fail("invalid HDF5: \(message)") }
        let chosen: String, rule: String
        switch inspection.outcome {
        case let .chosen(path, how):
            (chosen, rule) = (path, how)
        case let .missing(path):
            throw fail("no dataset '\(path)' in the file (\(Self.describe(inspection.candidates)))")
        case let .group(path):
            throw fail("'\(path)' is a group, not a dataset (\(Self.describe(inspection.candidates)))")
        case .undecided:
            let all = inspection.candidates
            let images = all.filter { (2...4).contains($0.rank) }
            if images.isEmpty {
                throw fail("no dataset with 2 to 4 dimensions (\(Self.describe(all)))")
            }
            throw fail("\(images.count) datasets could be the image; choose one with --dataset: \(images.map { "\($0.path) \($0.shapeText)" }.joined(separator: ", "))")
        }
        // Open: by path on disk, or as a file image through the core driver.
        let fid: hid_t
        if let bytes {
            let fapl = H5Pcreate(ch5_fapl_class())
            defer { if fapl >= 0 { H5Pclose(fapl) } }
            guard fapl >= 0, H5Pset_fapl_core(fapl, 1 << 16, false) >= 0,
                  bytes.withUnsafeBytes({ H5Pset_file_image(fapl, UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) }) >= 0
            else { throw fail("cannot open HDF5 file image: \(HDF5.lastError())") }
            fid = H5Fopen(name, ch5_acc_rdonly(), fapl)
        } else {
            fid = H5Fopen(input.path, ch5_acc_rdonly(), ch5_default())
        }
        guard let file = H5ID(fid, close: H5Fclose) else {
            throw fail("invalid HDF5: \(HDF5.lastError())")
        }
        self.file = file
        dataset = chosen
        // Open it with a chunk cache of one frame's row of chunks.
        let did = H5Dopen2(file.id, chosen, ch5_default())
        guard let data = H5ID(did, close: H5Dclose) else {
            throw fail("cannot open dataset '\(chosen)': \(HDF5.lastError())")
        }
        let space = H5Dget_space(data.id)
        defer { if space >= 0 { H5Sclose(space) } }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard (2...4).contains(rank) else {
            throw fail("dataset '\(chosen)' has \(rank < 0 ? "no" : String(rank)) dimension\(rank == 1 ? "" : "s"); expected 2 (image), 3 (stack) or 4 (scan_y, scan_x, h, w)")
        }
        var dims = [hsize_t](repeating: 0, count: rank)
        guard H5Sget_simple_extent_dims(space, &dims, nil) == rank else {
            throw fail("cannot read the shape of '\(chosen)': \(HDF5.lastError())")
        }
        let shape = dims.map { Int(clamping: $0) }
        let type = H5Dget_type(data.id)
        defer { if type >= 0 { H5Tclose(type) } }
        let cls = H5Tget_class(type)
        let size = H5Tget_size(type)
        let sampleType: String
        switch cls {
        case H5T_INTEGER:
            sampleType = (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + "\(size * 8)"
        case H5T_FLOAT:
            sampleType = "float\(size * 8)"
        default:
            throw fail("dataset '\(chosen)' holds \(Self.className(cls)) elements; only integer and float types are read")
        }
        // libhdf5 1.10 copies compact and contiguous data without checking the stored size
        // against the shape (a heap overflow on a forged file, found by FuzzHDF5).
        if let plist = Optional(H5Dget_create_plist(data.id)), plist >= 0 {
            let storage = H5Pget_layout(plist)
            H5Pclose(plist)
            if storage == H5D_COMPACT || storage == H5D_CONTIGUOUS {
                let stored = Int(clamping: H5Dget_storage_size(data.id))
                let expected = ReadLimits.product(shape + [size]) ?? Int.max
                if stored < expected && (storage == H5D_COMPACT || stored != 0) {
                    throw fail("dataset '\(chosen)' stores \(stored) bytes, its shape \(Self.shapeText(shape)) of \(size)-byte elements needs \(expected)")
                }
            }
        }
        let h = shape[rank - 2], w = shape[rank - 1]
        try ReadLimits.checkFrame(width: w, height: h, path: input.path)
        guard let frames = ReadLimits.product(Array(shape[0..<(rank - 2)])), frames >= 1, h >= 1, w >= 1 else {
            throw fail("dataset '\(chosen)' has an empty shape \(Self.shapeText(shape))")
        }
        frameShape = (h, w)
        self.rank = rank
        rowsInFile = shape
        let scan = rank == 4 ? ScanShape(height: shape[0], width: shape[1]) : nil
        layout = FrameLayout(width: w, height: h, frameCount: frames, scan: scan, sampleType: sampleType)
        // The filter pipeline of a chunked dataset (checked by HDF5Filters on reading).
        var filters: (shape: [Int], bytes: Int, first: H5Z_filter_t?, count: Int)?
        if let plist = Optional(H5Dget_create_plist(data.id)), plist >= 0 {
            defer { H5Pclose(plist) }
            var chunk = [hsize_t](repeating: 0, count: rank)
            let nf = Int(H5Pget_nfilters(plist))
            if H5Pget_layout(plist) == H5D_CHUNKED, H5Pget_chunk(plist, Int32(rank), &chunk) == rank {
                let c = chunk.map { Int(clamping: $0) }
                var flags: UInt32 = 0, nelmts = 0, config: UInt32 = 0
                var name = [CChar](repeating: 0, count: 64)
                let id = nf > 0 ? H5Pget_filter2(plist, 0, &flags, &nelmts, nil, name.count, &name, &config) : nil
                guard id ?? 0 >= 0, nf >= 0, c.allSatisfy({ $0 > 0 }), let bytes = ReadLimits.product(c + [size]) else {
                    throw fail("cannot read the chunks and filters of '\(chosen)': \(HDF5.lastError())")
                }
                filters = (c, bytes, id, nf)
            }
        }
        var fileSize: hsize_t = 0
        guard H5Fget_filesize(file.id, &fileSize) >= 0 else { throw fail("cannot read the file size: \(HDF5.lastError())") }
        self.fileSize = UInt64(fileSize)
        chunkShape = filters?.shape ?? []
        chunkBytes = filters?.bytes ?? 0
        firstFilter = filters?.first
        filterCount = filters?.count ?? 0
        // A cache holding the chunks one frame touches (chunks spanning frames are then reused).
        let dcpl = H5Dget_create_plist(data.id)
        var chunkText = "contiguous"
        if dcpl >= 0 {
            defer { H5Pclose(dcpl) }
            if H5Pget_layout(dcpl) == H5D_CHUNKED {
                var chunk = [hsize_t](repeating: 0, count: rank)
                if H5Pget_chunk(dcpl, Int32(rank), &chunk) == rank, chunk.allSatisfy({ $0 > 0 }) {
                    chunkText = Self.shapeText(chunk.map { Int(clamping: $0) })
                    let c = chunk.map { Int(clamping: $0) }
                    if let chunkBytes = ReadLimits.product(c + [size]),
                       let across = ReadLimits.product([(h + c[rank - 2] - 1) / c[rank - 2], (w + c[rank - 1] - 1) / c[rank - 1]]),
                       let need = ReadLimits.product([chunkBytes, across]) {
                        let bytes = min(max(need + need / 4, 1 << 20), 1 << 28)
                        let dapl = H5Dget_access_plist(data.id)
                        if dapl >= 0 {
                            defer { H5Pclose(dapl) }
                            if H5Pset_chunk_cache(dapl, 10007, bytes, 1.0) >= 0 {
                                let again = H5Dopen2(file.id, chosen, dapl)
                                if let reopened = H5ID(again, close: H5Dclose) {
                                    self.data = reopened
                                    metadata = [("dataset", .string(chosen)), ("dataset_rule", .string(rule)), ("chunks", .string(chunkText))]
                                    return
                                }
                            }
                        }
                    }
                }
            }
        }
        _ = HDF5.lastError()
        self.data = data
        metadata = [("dataset", .string(chosen)), ("dataset_rule", .string(rule)), ("chunks", .string(chunkText))]
    }

    func readFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try checkFrameIndex(index)
        try HDF5.prepare(path)
        let (h, w) = frameShape
        var start = [hsize_t](repeating: 0, count: rank)
        var count = [hsize_t](repeating: 1, count: rank)
        count[rank - 2] = hsize_t(h)
        count[rank - 1] = hsize_t(w)
        switch rank {
        case 3: start[0] = hsize_t(index)
        case 4:
            start[0] = hsize_t(index / rowsInFile[1])
            start[1] = hsize_t(index % rowsInFile[1])
        default: break
        }
        let fileSpace = H5Dget_space(data.id)
        defer { if fileSpace >= 0 { H5Sclose(fileSpace) } }
        var memDims: [hsize_t] = [hsize_t(h), hsize_t(w)]
        let memSpace = H5Screate_simple(2, &memDims, nil)
        defer { if memSpace >= 0 { H5Sclose(memSpace) } }
        if !chunkShape.isEmpty { try checkChunks(start: start, count: count) }
        guard fileSpace >= 0, memSpace >= 0,
              H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil) >= 0,
              HDF5Filters.reading(filter: firstFilter, chunkBytes: chunkBytes, {
                  H5Dread(data.id, ch5_native_float(), memSpace, fileSpace, ch5_default(), buffer.baseAddress)
              }) >= 0
        else {
            throw PeaksError.file(path: path, reason: "cannot read frame \(index) of '\(dataset)': \(HDF5.lastError())")
        }
    }

    /// The chunks a frame reads must lie inside the file (libhdf5 allocates a chunk's stored
    /// size before reading it: a forged 4 GB size is a 4 GB allocation, found by FuzzHDF5).
    /// A chunk whose filter mask skips the pipeline's first filter is not checked by
    /// HDF5Filters: accept it only when it skips every filter and stores a whole chunk.
    private func checkChunks(start: [hsize_t], count: [hsize_t]) throws {
        let r = chunkShape.count
        guard r == rank else { return }
        var lo = [Int](repeating: 0, count: r), hi = lo
        for k in 0..<r {
            lo[k] = Int(start[k]) / chunkShape[k]
            hi[k] = (Int(start[k]) + Int(count[k]) - 1) / chunkShape[k]
        }
        var at = lo
        var visited = 0
        while visited < 1_000_000 {
            var offset = (0..<r).map { hsize_t(at[$0] * chunkShape[$0]) }
            var mask: UInt32 = 0, addr: haddr_t = 0, size: hsize_t = 0
            if H5Dget_chunk_info_by_coord(data.id, &offset, &mask, &addr, &size) >= 0, addr != haddr_t.max {
                let (end, overflow) = UInt64(addr).addingReportingOverflow(UInt64(size))
                if overflow || end > fileSize {
                    throw PeaksError.file(path: path, reason: "dataset '\(dataset)' has a chunk at \(offset) (\(size) bytes at \(addr)) past the end of the file (\(fileSize) bytes)")
                }
            }
            if firstFilter != nil, H5Dget_chunk_info_by_coord(data.id, &offset, &mask, &addr, &size) >= 0, mask & 1 != 0 {
                let all: UInt32 = filterCount >= 32 ? ~0 : (1 << UInt32(filterCount)) - 1
                if mask & all != all || Int(clamping: size) < chunkBytes {
                    throw PeaksError.file(path: path, reason: "dataset '\(dataset)' has a chunk at \(offset) that skips some filters (mask \(mask)) or is short (\(size) of \(chunkBytes) bytes)")
                }
            }
            visited += 1
            var k = r - 1
            while k >= 0 {
                at[k] += 1
                if at[k] <= hi[k] { break }
                at[k] = lo[k]
                k -= 1
            }
            if k < 0 { break }
        }
        _ = HDF5.lastError()
    }

    // MARK: Dataset choice

    struct Candidate {
        let path: String
        let shape: [Int]
        var rank: Int { shape.count }
        var shapeText: String { HDF5Frames.shapeText(shape) }
    }

    static func shapeText(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    static func describe(_ all: [Candidate]) -> String {
        if all.isEmpty { return "the file has no datasets" }
        let shown = all.prefix(20).map { "\($0.path) \($0.shapeText)" }.joined(separator: ", ")
        return "datasets: " + shown + (all.count > 20 ? ", ... (\(all.count) in all)" : "")
    }

    static func className(_ c: H5T_class_t) -> String {
        switch c {
        case H5T_COMPOUND: return "compound (e.g. complex)"
        case H5T_STRING: return "string"
        case H5T_ENUM: return "enum (e.g. bool)"
        case H5T_BITFIELD: return "bitfield"
        case H5T_OPAQUE: return "opaque"
        case H5T_REFERENCE: return "reference"
        case H5T_VLEN: return "variable-length"
        case H5T_ARRAY: return "array"
        case H5T_TIME: return "time"
        default: return "unknown"
        }
    }
}

extension Optional where Wrapped == [UInt8] {
    /// The bytes' buffer, or nil.
    fileprivate func withUnsafeBytesIfAny<T>(_ body: (UnsafeRawBufferPointer?) throws -> T) rethrows -> T {
        guard let self else { return try body(nil) }
        return try self.withUnsafeBytes { try body($0) }
    }
}

extension ImageFormat {
    /// HDF5 (and NeXus) through libhdf5: 2-D image, 3-D stack, 4-D scan.
    public static let hdf5 = ImageFormat(
        name: "HDF5",
        summary: "HDF5/NeXus: --dataset PATH, else the NeXus default signal, else the only 2-4-D dataset; (h, w) image, (n, h, w) stack, (scan_y, scan_x, h, w) scan; any integer or float type; gzip, LZ4, bitshuffle-LZ4, LZF, BZIP2 chunks",
        extensions: ["h5", "hdf5", "hdf", "nxs", "nx5", "cxi"], readsStacks: true,
        recognize: { head, _ in HDF5.recognize(head) },
        open: { file, options in try HDF5Frames(file: file, options: options) })
}
