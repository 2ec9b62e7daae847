#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTIFF
import PeakKit
import Synchronization

/// TIFF and BigTIFF through libtiff.
///
/// Reading: 8/16/32/64-bit unsigned and signed integers, float16/32/64; strips or tiles; contiguous
/// or planar samples; every compression this libtiff has (none, LZW, deflate, PackBits, zstd,
/// LZMA, JPEG, ...) with any predictor. Multi-page files are stacks: the first page and the pages
/// right after it with the same shape and type (thumbnails and reduced-resolution pages are
/// skipped; a page of another shape ends the stack). ImageJ hyperstacks and OME-TIFF are stacks
/// of their pages; an ImageJ file that stores its `images=N` frames back to back behind one IFD
/// (ImageJ's files over 4 GiB) is read as N frames. Grey + extra samples: the first sample.
/// RGB: luminance `0.299 R + 0.587 G + 0.114 B` (in Double, rounded to Float). Palette, YCbCr,
/// CMYK and bit depths other than 8/16/32/64 go through libtiff's RGBA interface (8-bit
/// luminance). MinIsWhite unsigned integers are inverted (max − v). Complex samples are refused.
///
/// Writing: one page, float32 (`encode`, lossless for any image) or uint16
/// (`TIFF.encodeUInt16`, the conversion of `ImageEncoding`), deflate-compressed, strips of 64 rows.
public enum TIFF {
    /// II*\0, MM\0*, II+\0 (BigTIFF), MM\0+.
    static func recognize(_ head: [UInt8]) -> Recognition {
        guard head.count >= 4 else { return .no }
        let h = Array(head[0..<4])
        if h == [0x49, 0x49, 0x2A, 0x00] || h == [0x4D, 0x4D, 0x00, 0x2A]
            || h == [0x49, 0x49, 0x2B, 0x00] || h == [0x4D, 0x4D, 0x00, 0x2B] { return .strong }
        return .no
    }

    /// A float32 TIFF of `image` (single page, deflate, no predictor).
    public static func encodeFloat32(_ image: Image) throws -> [UInt8] {
        try image.pixels.withUnsafeBufferPointer { p in
            try encode(width: image.width, height: image.height, bits: 32, sampleFormat: UInt16(SAMPLEFORMAT_IEEEFP),
                       raw: UnsafeRawBufferPointer(p))
        }
    }

    /// A uint16 TIFF of `image`: NaN → 0, clipped to 0...65535, rounded (see `ImageEncoding`).
    public static func encodeUInt16(_ image: Image, scale: Double = 1, offset: Double = 0) throws -> [UInt8] {
        let samples: [UInt16] = ImageEncoding.quantize(image, scale: scale, offset: offset, max: 65535)
        return try samples.withUnsafeBufferPointer { p in
            try encode(width: image.width, height: image.height, bits: 16, sampleFormat: UInt16(SAMPLEFORMAT_UINT),
                       raw: UnsafeRawBufferPointer(p))
        }
    }

    static func encode(width: Int, height: Int, bits: Int, sampleFormat: UInt16, raw: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard width >= 1, height >= 1 else {
            throw PeaksError.invalidImage(reason: "cannot write an empty \(width)x\(height) image as TIFF")
        }
        guard width <= Int(UInt32.max), height <= Int(UInt32.max) else {
            throw PeaksError.invalidImage(reason: "\(width)x\(height) is too large for TIFF")
        }
        try TIFF.load(writing: true)
        let rowBytes = width * bits / 8
        // Classic TIFF addresses 4 GiB; larger images (with deflate, rarely) need BigTIFF.
        let big = raw.count > (1 << 31)
        let stream = TIFFStream(writing: ())
        let messages = UnsafeMutablePointer<ctiff_messages>.allocate(capacity: 1)
        messages.initialize(to: ctiff_messages())
        defer { messages.deallocate() }
        let options = ctiff_options(messages, 0)
        defer { TIFFOpenOptionsFree(options) }
        let context = Unmanaged.passUnretained(stream).toOpaque()
        guard let tif = TIFFClientOpenExt("image.tif", big ? "w8" : "w", context, tiffRead, tiffWrite, tiffSeek,
                                          tiffClose, tiffSize, tiffMap, tiffUnmap, options)
        else {
            throw PeaksError.invalidImage(reason: "cannot write TIFF: \(message(messages))")
        }
        let rowsPerStrip = 64
        var ok = ctiff_set_u32(tif, UInt32(TIFFTAG_IMAGEWIDTH), UInt32(width)) == 1
        ok = ok && ctiff_set_u32(tif, UInt32(TIFFTAG_IMAGELENGTH), UInt32(height)) == 1
        ok = ok && ctiff_set_u16(tif, UInt32(TIFFTAG_BITSPERSAMPLE), UInt16(bits)) == 1
        ok = ok && ctiff_set_u16(tif, UInt32(TIFFTAG_SAMPLESPERPIXEL), 1) == 1
        ok = ok && ctiff_set_u16(tif, UInt32(TIFFTAG_SAMPLEFORMAT), sampleFormat) == 1
        ok = ok && ctiff_set_u16(tif, UInt32(TIFFTAG_PHOTOMETRIC), UInt16(PHOTOMETRIC_MINISBLACK)) == 1
        ok = ok && ctiff_set_u16(tif, UInt32(TIFFTAG_PLANARCONFIG), UInt16(PLANARCONFIG_CONTIG)) == 1
        ok = ok && ctiff_set_u16(tif, UInt32(TIFFTAG_COMPRESSION), UInt16(COMPRESSION_ADOBE_DEFLATE)) == 1
        ok = ok && ctiff_set_u32(tif, UInt32(TIFFTAG_ROWSPERSTRIP), UInt32(rowsPerStrip)) == 1
        ok = ok && ctiff_set_string(tif, UInt32(TIFFTAG_SOFTWARE), "peaks") == 1
        var strip: UInt32 = 0
        var row = 0
        while ok && row < height {
            let rows = min(rowsPerStrip, height - row)
            let start = UnsafeMutableRawPointer(mutating: raw.baseAddress! + row * rowBytes)
            ok = TIFFWriteEncodedStrip(tif, strip, start, tmsize_t(rows * rowBytes)) >= 0
            strip += 1
            row += rows
        }
        ok = ok && TIFFWriteDirectory(tif) == 1
        TIFFClose(tif)
        guard ok, messages.pointee.error_count == 0 else {
            throw PeaksError.invalidImage(reason: "cannot write TIFF: \(message(messages))")
        }
        return stream.written
    }

    /// The first recorded libtiff error, one line.
    static func message(_ m: UnsafeMutablePointer<ctiff_messages>) -> String {
        let text = withUnsafeBytes(of: &m.pointee.error) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
        return line.isEmpty ? "libtiff failed without a message" : line
    }

    static let silenced: Bool = {
        ctiff_silence_global_handlers()
        return true
    }()

    /// Loads libtiff (on first use: Sources/_PeaksLazyLibraries) and silences its process-wide
    /// handlers; a missing library is one error line.
    static func load(path: String = "", writing: Bool = false) throws {
        if let reason = ctiff_load() {
            let why = String(cString: reason)
            throw writing ? PeaksError.invalidImage(reason: "cannot write TIFF: \(why)") : PeaksError.file(path: path, reason: why)
        }
        _ = silenced
    }
}

// MARK: - Client I/O: libtiff reads an InputFile (on disk by pread, or in memory) or writes memory

/// The state of one libtiff handle's I/O: a file read at `position`, or bytes being written.
final class TIFFStream {
    let file: InputFile?
    var written: [UInt8] = []
    var position = 0

    init(file: InputFile) { self.file = file }
    init(writing: Void) { self.file = nil }

    var size: Int { file?.size ?? written.count }

    func read(_ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        guard count > 0, position >= 0 else { return 0 }
        if let file {
            let n = file.readSome(into: buffer, count: count, at: position)
            if n > 0 { position += n }
            return n
        }
        guard position < written.count else { return 0 }
        let n = min(count, written.count - position)
        written.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + position, byteCount: n) }
        position += n
        return n
    }

    func write(_ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        guard file == nil, count >= 0, position >= 0 else { return -1 }
        let end = position + count
        if end > written.count { written.append(contentsOf: repeatElement(0, count: end - written.count)) }
        written.withUnsafeMutableBytes { ($0.baseAddress! + position).copyMemory(from: buffer, byteCount: count) }
        position = end
        return count
    }
}

extension InputFile {
    /// Reads up to `count` bytes at `offset` (fewer at the end of the file); -1 on an I/O error.
    func readSome(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) -> Int {
        guard offset >= 0, offset < size, count > 0 else { return 0 }
        let n = min(count, size - offset)
        if let memory {
            memory.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
            return n
        }
        var done = 0
        while done < n {
            let r = pread(fd, buffer + done, n - done, off_t(offset + done))
            if r < 0 {
                if errno == EINTR { continue }
                return done > 0 ? done : -1
            }
            if r == 0 { break }
            done += r
        }
        return done
    }
}

private func stream(_ h: thandle_t?) -> TIFFStream {
    Unmanaged<TIFFStream>.fromOpaque(h!).takeUnretainedValue()
}

private let tiffRead: TIFFReadWriteProc = { h, buffer, count in
    guard let buffer else { return 0 }
    return tmsize_t(stream(h).read(buffer, Int(count)))
}
private let tiffWrite: TIFFReadWriteProc = { h, buffer, count in
    guard let buffer else { return 0 }
    return tmsize_t(stream(h).write(buffer, Int(count)))
}
private let tiffSeek: TIFFSeekProc = { h, offset, whence in
    let s = stream(h)
    let delta = Int64(bitPattern: offset)
    let base: Int64
    switch whence {
    case SEEK_SET: base = 0
    case SEEK_CUR: base = Int64(s.position)
    case SEEK_END: base = Int64(s.size)
    default: return toff_t(bitPattern: -1)
    }
    let (target, overflow) = base.addingReportingOverflow(delta)
    guard !overflow, target >= 0, target <= Int64(Int.max / 2) else { return toff_t(bitPattern: -1) }
    s.position = Int(target)
    return toff_t(target)
}
private let tiffClose: TIFFCloseProc = { _ in 0 }
private let tiffSize: TIFFSizeProc = { h in toff_t(stream(h).size) }
private let tiffMap: TIFFMapFileProc = { _, _, _ in 0 }
private let tiffUnmap: TIFFUnmapFileProc = { _, _, _ in }

// MARK: - Reading

/// One open libtiff handle (used by one thread at a time, through `TIFFFrames.pool`).
final class TIFFHandle: @unchecked Sendable {
    let tif: OpaquePointer
    let stream: TIFFStream
    let messages: UnsafeMutablePointer<ctiff_messages>
    let path: String

    init(file: InputFile) throws {
        try TIFF.load(path: file.path)
        path = file.path
        stream = TIFFStream(file: file)
        messages = UnsafeMutablePointer<ctiff_messages>.allocate(capacity: 1)
        messages.initialize(to: ctiff_messages())
        let options = ctiff_options(messages, tmsize_t(max(ReadLimits.maxFrameBytes, 1 << 28)))
        defer { TIFFOpenOptionsFree(options) }
        let context = Unmanaged.passUnretained(stream).toOpaque()
        // "m": no memory mapping (the map procedure refuses anyway); "h": read only the header
        // is not used, so the first directory is read and checked here.
        guard let tif = TIFFClientOpenExt(file.path, "rm", context, tiffRead, tiffWrite, tiffSeek,
                                          tiffClose, tiffSize, tiffMap, tiffUnmap, options)
        else {
            let why = TIFF.message(messages)
            messages.deallocate()
            throw PeaksError.file(path: file.path, reason: "invalid TIFF: \(why)")
        }
        self.tif = tif
    }

    deinit {
        TIFFClose(tif)
        messages.deallocate()
    }

    func clearErrors() { messages.pointee.error_count = 0; messages.pointee.error.0 = 0 }
    var hasError: Bool { messages.pointee.error_count > 0 }
    func fail(_ what: String) -> PeaksError {
        PeaksError.file(path: path, reason: "\(what): \(TIFF.message(messages))")
    }

    func u16(_ tag: Int32, defaulted: Bool = true) -> UInt16? {
        var v: UInt16 = 0
        let ok = defaulted ? ctiff_get_u16_defaulted(tif, UInt32(tag), &v) : ctiff_get_u16(tif, UInt32(tag), &v)
        return ok == 1 ? v : nil
    }
    func u32(_ tag: Int32) -> UInt32? {
        var v: UInt32 = 0
        return ctiff_get_u32(tif, UInt32(tag), &v) == 1 ? v : nil
    }
    func string(_ tag: Int32) -> String? {
        var p: UnsafePointer<CChar>?
        guard ctiff_get_string(tif, UInt32(tag), &p) == 1, let p else { return nil }
        return String(cString: p)
    }
}

/// What one page stores.
struct TIFFPage: Equatable {
    var width = 0, height = 0
    var bits = 0, samples = 1, sampleFormat = 1, photometric = 1, planar = 1, compression = 1
    var tiled = false
    var tileWidth = 0, tileHeight = 0, rowsPerStrip = 0
    var reduced = false

    /// Pages of one stack agree on everything that shapes a frame.
    func sameShape(_ o: TIFFPage) -> Bool {
        width == o.width && height == o.height && bits == o.bits && samples == o.samples
            && sampleFormat == o.sampleFormat && photometric == o.photometric
    }

    init() {}

    init(_ h: TIFFHandle) throws {
        guard let w = h.u32(TIFFTAG_IMAGEWIDTH), let l = h.u32(TIFFTAG_IMAGELENGTH) else {
            throw PeaksError.file(path: h.path, reason: "invalid TIFF: a page has no ImageWidth/ImageLength")
        }
        width = Int(w)
        height = Int(l)
        bits = Int(h.u16(TIFFTAG_BITSPERSAMPLE) ?? 1)
        samples = Int(h.u16(TIFFTAG_SAMPLESPERPIXEL) ?? 1)
        sampleFormat = Int(h.u16(TIFFTAG_SAMPLEFORMAT) ?? 1)
        photometric = Int(h.u16(TIFFTAG_PHOTOMETRIC, defaulted: false) ?? (samples >= 3 ? UInt16(PHOTOMETRIC_RGB) : UInt16(PHOTOMETRIC_MINISBLACK)))
        planar = Int(h.u16(TIFFTAG_PLANARCONFIG) ?? 1)
        compression = Int(h.u16(TIFFTAG_COMPRESSION) ?? 1)
        tiled = TIFFIsTiled(h.tif) != 0
        if tiled {
            tileWidth = Int(h.u32(TIFFTAG_TILEWIDTH) ?? 0)
            tileHeight = Int(h.u32(TIFFTAG_TILELENGTH) ?? 0)
        } else {
            rowsPerStrip = Int(min(h.u32(TIFFTAG_ROWSPERSTRIP) ?? UInt32(height), UInt32(max(height, 1))))
        }
        reduced = ((h.u32(TIFFTAG_SUBFILETYPE) ?? 0) & UInt32(FILETYPE_REDUCEDIMAGE)) != 0
    }

    /// The sample type as decoded by `SampleFormat` (native byte order: libtiff swaps), or nil
    /// when the RGBA interface must decode the page.
    var sample: SampleFormat? {
        guard [8, 16, 32, 64].contains(bits) else { return nil }
        switch sampleFormat {
        case Int(SAMPLEFORMAT_UINT), Int(SAMPLEFORMAT_VOID): return SampleFormat(.unsigned, size: bits / 8)
        case Int(SAMPLEFORMAT_INT): return SampleFormat(.signed, size: bits / 8)
        case Int(SAMPLEFORMAT_IEEEFP): return bits == 8 ? nil : SampleFormat(.float, size: bits / 8)
        default: return nil
        }
    }

    /// True when the samples are decoded directly (grey or RGB); false: through RGBA.
    var direct: Bool {
        guard sample != nil else { return false }
        switch photometric {
        case Int(PHOTOMETRIC_MINISBLACK), Int(PHOTOMETRIC_MINISWHITE): return true
        case Int(PHOTOMETRIC_RGB): return samples >= 3
        default: return false
        }
    }

    /// Channels combined into the frame: 3 for RGB (luminance), else 1.
    var channels: Int { photometric == Int(PHOTOMETRIC_RGB) && samples >= 3 ? 3 : 1 }

    var typeName: String {
        let base = sample.map(\.description) ?? "\(bits)-bit"
        return channels == 3 ? "rgb-\(base)" : base
    }
}

final class TIFFFrames: FrameSource {
    let path: String
    let formatName = "TIFF"
    let layout: FrameLayout
    let metadata: [(String, Value)]
    let file: InputFile
    let page: TIFFPage
    /// Directory offsets of the frames' pages.
    let offsets: [UInt64]
    /// ImageJ's contiguous frames behind one IFD: (first byte, sample format with byte order).
    let contiguous: ContiguousFrames?
    private let idle = Mutex<[TIFFHandle]>([])

    init(file: InputFile) throws {
        path = file.path
        self.file = file
        let h = try TIFFHandle(file: file)
        let first = try TIFFPage(h)
        try ReadLimits.checkFrame(width: first.width, height: first.height, path: path)
        guard first.width > 0, first.height > 0 else {
            throw PeaksError.file(path: path, reason: "invalid TIFF: the first page is \(first.width)x\(first.height) pixels")
        }
        if first.sampleFormat == Int(SAMPLEFORMAT_COMPLEXINT) || first.sampleFormat == Int(SAMPLEFORMAT_COMPLEXIEEEFP) {
            throw PeaksError.file(path: path, reason: "unsupported TIFF: complex samples (SampleFormat \(first.sampleFormat))")
        }
        if TIFFIsCODECConfigured(UInt16(truncatingIfNeeded: first.compression)) == 0 {
            throw PeaksError.file(path: path, reason: "unsupported TIFF: compression \(first.compression)\(Self.compressionName(first.compression)) is not available in this libtiff")
        }
        if !first.direct, TIFFRGBAImageOK_quiet(h) == false {
            throw PeaksError.file(path: path, reason: "unsupported TIFF: \(first.bits)-bit samples, SampleFormat \(first.sampleFormat), photometric \(first.photometric), \(first.samples) sample(s) per pixel")
        }
        let description = h.string(TIFFTAG_IMAGEDESCRIPTION) ?? ""
        // The stack: the first page and the following pages of the same shape.
        var offsets = [TIFFCurrentDirOffset(h.tif)]
        var skipped = 0
        var ended = false
        h.clearErrors()
        let maxPages = 10_000_000
        while !ended, TIFFReadDirectory(h.tif) == 1 {
            let p = try TIFFPage(h)
            if p.reduced { skipped += 1; continue }
            if p.sameShape(first) {
                offsets.append(TIFFCurrentDirOffset(h.tif))
                if offsets.count > maxPages { ended = true }
            } else {
                ended = true
            }
        }
        if !ended, h.hasError {
            throw h.fail("invalid TIFF: cannot read page \(offsets.count + skipped)")
        }
        h.clearErrors()
        var meta: [(String, Value)] = []
        var frames = offsets.count
        var contiguous: ContiguousFrames?
        // ImageJ: "images=N" frames; files over 4 GiB keep one IFD and the frames back to back.
        if description.hasPrefix("ImageJ=") {
            let fields = Self.keyValues(description)
            for key in ["images", "channels", "slices", "frames", "spacing", "unit", "finterval"] {
                if let v = fields[key] { meta.append(("imagej_\(key)", Int(v).map { .integer($0) } ?? .string(v))) }
            }
            if let n = fields["images"].flatMap({ Int($0) }), n > 1, offsets.count == 1, first.direct,
               first.compression == Int(COMPRESSION_NONE), first.samples == 1, !first.tiled {
                guard TIFFSetSubDirectory(h.tif, offsets[0]) == 1 else { throw h.fail("invalid TIFF") }
                var starts: UnsafePointer<UInt64>?
                if ctiff_get_u64_array(h.tif, UInt32(TIFFTAG_STRIPOFFSETS), &starts) == 1, let starts {
                    let sample = SampleFormat(first.sample!.kind, size: first.sample!.size, bigEndian: TIFFIsBigEndian(h.tif) != 0)
                    contiguous = try ContiguousFrames(
                        file: file, sample: sample, firstOffset: Int(clamping: starts[0]),
                        pixelsPerFrame: first.width * first.height, frameCount: n, what: "the ImageJ frames")
                    frames = n
                }
            }
        } else if description.contains("<OME") {
            meta.append(("ome", .bool(true)))
            // The first series' page count (SizeC × SizeZ × SizeT of its first Pixels element).
            if let pixels = description.firstRange(of: "<Pixels ") ?? description.firstRange(of: "<OME:Pixels ") {
                let rest = description[pixels.upperBound...]
                let element = rest[..<(rest.firstIndex(of: ">") ?? rest.endIndex)]
                let fields = Self.attributes(String(element))
                let n = ["SizeC", "SizeZ", "SizeT"].compactMap { fields[$0].flatMap { Int($0) } }.reduce(1, *)
                if n >= 1, n < frames { frames = n }
            }
        }
        if frames < offsets.count { offsets = Array(offsets.prefix(frames)) }
        self.offsets = offsets
        self.contiguous = contiguous
        page = first
        meta.insert(("compression", .string(Self.compressionNames[first.compression] ?? "\(first.compression)")), at: 0)
        if TIFFIsBigTIFF(h.tif) != 0 { meta.insert(("bigtiff", .bool(true)), at: 0) }
        metadata = meta
        layout = FrameLayout(width: first.width, height: first.height, frameCount: frames, sampleType: first.typeName)
        idle.withLock { $0.append(h) }
    }

    static let compressionNames: [Int: String] = [1: "none", 2: "CCITT RLE", 3: "CCITT G3", 4: "CCITT G4", 5: "LZW", 6: "old JPEG", 7: "JPEG",
                                    8: "deflate", 32946: "deflate", 32773: "PackBits", 34676: "SGI LogLuv", 34712: "JPEG 2000",
                                    34887: "LERC", 34925: "LZMA", 50000: "zstd", 50001: "WebP", 50002: "JPEG XL"]

    static func compressionName(_ c: Int) -> String { compressionNames[c].map { " (\($0))" } ?? "" }

    /// `key=value` lines (ImageJ's description).
    static func keyValues(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(whereSeparator: { $0 == "\n" }) {
            guard let eq = line.firstIndex(of: "=") else { continue }
            out[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return out
    }

    /// `Name="value"` attributes of one XML element.
    static func attributes(_ element: String) -> [String: String] {
        var out: [String: String] = [:]
        var rest = Substring(element)
        while let eq = rest.firstRange(of: "=\"") {
            let name = rest[..<eq.lowerBound].split(separator: " ").last.map(String.init) ?? ""
            let after = rest[eq.upperBound...]
            guard let close = after.firstIndex(of: "\"") else { break }
            out[name] = String(after[..<close])
            rest = after[after.index(after: close)...]
        }
        return out
    }

    // MARK: Frames

    func readFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try checkFrameIndex(index)
        if let contiguous {
            try contiguous.read(index, into: buffer)
            invertIfNeeded(buffer)
            return
        }
        let h = try idle.withLock { $0.popLast() } ?? TIFFHandle(file: file)
        // A handle that failed is dropped (libtiff's state after an error is not trusted).
        try read(index, with: h, into: buffer)
        idle.withLock { $0.append(h) }
    }

    private func invertIfNeeded(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard page.photometric == Int(PHOTOMETRIC_MINISWHITE), let s = page.sample, s.kind == .unsigned else { return }
        let top = Float(Double(UInt64.max >> (64 - UInt64(s.size * 8))))
        for i in buffer.indices { buffer[i] = top - buffer[i] }
    }

    private func read(_ index: Int, with h: TIFFHandle, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        h.clearErrors()
        guard TIFFSetSubDirectory(h.tif, offsets[index]) == 1 else {
            throw h.fail("cannot read page \(index)")
        }
        let p = try TIFFPage(h)
        guard p.sameShape(page), p.direct == page.direct else {
            throw PeaksError.file(path: path, reason: "invalid TIFF: page \(index) changed while being read")
        }
        if !p.direct {
            try readRGBA(index, h, into: buffer)
            return
        }
        let sample = p.sample!
        let w = p.width, hgt = p.height
        let channels = p.channels
        let separate = p.planar == Int(PLANARCONFIG_SEPARATE) && p.samples > 1
        let blockSamples = separate ? 1 : p.samples
        // Channel planes of the frame (R, G, B for colour); grey goes straight into `buffer`.
        let planes: UnsafeMutableBufferPointer<Float> = channels == 1 ? buffer
            : UnsafeMutableBufferPointer<Float>.allocate(capacity: w * hgt * channels)
        defer { if channels != 1 { planes.deallocate() } }
        let blockWidth = p.tiled ? p.tileWidth : w
        let blockHeight = p.tiled ? p.tileHeight : p.rowsPerStrip
        guard blockWidth > 0, blockHeight > 0 else {
            throw PeaksError.file(path: path, reason: "invalid TIFF: page \(index) has \(blockWidth)x\(blockHeight) tiles or strips")
        }
        let blockSize = Int(p.tiled ? TIFFTileSize(h.tif) : TIFFStripSize(h.tif))
        guard let need = ReadLimits.product([blockWidth, blockHeight, blockSamples, sample.size]),
              blockSize > 0, blockSize >= need, blockSize <= max(ReadLimits.maxFrameBytes, 1 << 28) else {
            throw PeaksError.file(path: path, reason: "invalid TIFF: page \(index) has a block of \(blockSize) bytes for \(blockWidth)x\(blockHeight) pixels")
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: blockSize, alignment: 16)
        defer { raw.deallocate() }
        // Interleaved samples are decoded a run of pixels at a time: a forged page may declare
        // 65535 samples a pixel and a row of 2^18 pixels, and a whole decoded row would then need
        // more memory than the block itself (found by FuzzTIFF).
        let runPixels = max(1, 16384 / blockSamples)
        let rowValues = UnsafeMutablePointer<Float>.allocate(capacity: runPixels * blockSamples)
        defer { rowValues.deallocate() }
        let stride = blockWidth * blockSamples * sample.size
        let planesUsed = separate ? channels : 1
        for plane in 0..<planesUsed {
            var y0 = 0
            while y0 < hgt {
                var x0 = 0
                while x0 < w {
                    let got: tmsize_t
                    if p.tiled {
                        let tile = TIFFComputeTile(h.tif, UInt32(x0), UInt32(y0), 0, UInt16(plane))
                        got = TIFFReadEncodedTile(h.tif, tile, raw, tmsize_t(blockSize))
                    } else {
                        let strip = TIFFComputeStrip(h.tif, UInt32(y0), UInt16(plane))
                        got = TIFFReadEncodedStrip(h.tif, strip, raw, tmsize_t(blockSize))
                    }
                    let rows = min(blockHeight, hgt - y0)
                    let cols = min(blockWidth, w - x0)
                    guard got >= 0, !h.hasError, Int(got) >= (rows - 1) * stride + cols * blockSamples * sample.size else {
                        throw h.fail("cannot read page \(index) at (\(x0), \(y0))")
                    }
                    for r in 0..<rows {
                        let y = y0 + r
                        if channels == 1, blockSamples == 1 {
                            // Grey: straight into the frame, no copy through `rowValues`.
                            sample.decode(raw + r * stride, count: cols, into: buffer.baseAddress! + y * w + x0)
                            continue
                        }
                        var c0 = 0
                        while c0 < cols {
                            let n = min(runPixels, cols - c0)
                            sample.decode(raw + r * stride + c0 * blockSamples * sample.size,
                                          count: n * blockSamples, into: rowValues)
                            let x = x0 + c0
                            if channels == 1 {
                                let dst = buffer.baseAddress! + y * w + x
                                for c in 0..<n { dst[c] = rowValues[c * blockSamples] }
                            } else if separate {
                                let dst = planes.baseAddress! + plane * w * hgt + y * w + x
                                for c in 0..<n { dst[c] = rowValues[c] }
                            } else {
                                for k in 0..<3 {
                                    let dst = planes.baseAddress! + k * w * hgt + y * w + x
                                    for c in 0..<n { dst[c] = rowValues[c * blockSamples + k] }
                                }
                            }
                            c0 += n
                        }
                    }
                    x0 += p.tiled ? blockWidth : w
                }
                y0 += blockHeight
            }
        }
        if channels == 3 {
            let n = w * hgt
            let r = planes.baseAddress!, g = r + n, b = g + n
            for i in 0..<n {
                buffer[i] = Float(0.299 * Double(r[i]) + 0.587 * Double(g[i]) + 0.114 * Double(b[i]))
            }
        } else {
            invertIfNeeded(buffer)
        }
    }

    /// Palette, YCbCr, CMYK, 1/2/4/12-bit, ...: libtiff's RGBA decoder, then luminance.
    private func readRGBA(_ index: Int, _ h: TIFFHandle, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        let w = page.width, hgt = page.height
        let rgba = UnsafeMutablePointer<UInt32>.allocate(capacity: w * hgt)
        defer { rgba.deallocate() }
        guard TIFFReadRGBAImageOriented(h.tif, UInt32(w), UInt32(hgt), rgba, Int32(ORIENTATION_TOPLEFT), 0) == 1, !h.hasError else {
            throw h.fail("cannot decode page \(index)")
        }
        for i in 0..<(w * hgt) {
            let v = rgba[i]
            let r = Double(v & 0xFF), g = Double((v >> 8) & 0xFF), b = Double((v >> 16) & 0xFF)
            buffer[i] = Float(0.299 * r + 0.587 * g + 0.114 * b)
        }
    }
}

/// TIFFRGBAImageOK without its message buffer in Swift.
private func TIFFRGBAImageOK_quiet(_ h: TIFFHandle) -> Bool {
    var text = [CChar](repeating: 0, count: 1024)
    return TIFFRGBAImageOK(h.tif, &text) == 1
}

extension ImageFormat {
    /// TIFF and BigTIFF through libtiff (pages = frames).
    public static let tiff = ImageFormat(
        name: "TIFF",
        summary: "TIFF and BigTIFF: 8/16/32/64-bit integers, float16/32/64, strips or tiles, any libtiff compression and predictor; pages of one shape = a stack (ImageJ, OME-TIFF); RGB -> luminance",
        extensions: ["tif", "tiff", "btf", "tf8"], readsStacks: true, writes: "float32, uint16",
        recognize: { head, _ in TIFF.recognize(head) },
        open: { file, _ in try TIFFFrames(file: file) },
        encode: { try TIFF.encodeFloat32($0) })
}
