import CFITSIO
import PeakKit
import Synchronization

/// FITS through cfitsio.
///
/// Which HDU: `--hdu N` (0 = primary), else the primary HDU when it holds an image (NAXIS ≥ 2),
/// else the first image extension (tile-compressed images included: cfitsio decompresses them).
/// BITPIX 8/16/32/64/−32/−64 with BZERO/BSCALE applied (uint16 stored as int16 + 32768 comes back
/// exact; large int32/int64 values round to the nearest Float). Pixels equal to BLANK (or ZBLANK)
/// and NaN pixels are undefined in FITS: they read as NaN and `nanMeansInvalid` is true, so the
/// detection treats them as masked. NAXIS 2 = an image, 3 = a cube read as a stack (NAXIS3
/// frames), 4 = a scan (NAXIS4 rows × NAXIS3 columns of frames); more axes only when the extra
/// ones have length 1. Files on disk are opened literally (no extended filename syntax:
/// `we[ird].fits` is a file name, not a filter expression).
public enum FITS {
    static func recognize(_ head: [UInt8]) -> Recognition {
        head.starts(with: Array("SIMPLE  =".utf8)) ? .strong : .no
    }

    /// cfitsio's text for a status code, and its most recent detailed message.
    static func message(_ status: Int32) -> String {
        var text = [CChar](repeating: 0, count: 32)
        ffgerr(status, &text)
        var detail = [CChar](repeating: 0, count: 96)
        var details: [String] = []
        while ffgmsg(&detail) > 0 {
            let d = cText(detail).trimmingSpaces()
            if !d.isEmpty, details.count < 1 { details.append(d) }
        }
        let base = cText(text)
        let line = details.isEmpty || details[0] == base ? base : "\(base): \(details[0])"
        return line.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
    }

    /// Walks the headers (not the data) and refuses a tile size below 1: cfitsio 4.2 divides by
    /// ZTILEn when it opens a tile-compressed HDU (SIGFPE, found by FuzzFITS). The integer
    /// keywords of tile compression (ZTILEn, ZNAXISn, ZBITPIX, ZVALn) must appear once and
    /// hold an integer: cfitsio looks keywords up from where its last lookup ended, so with a
    /// duplicate ZTILE2 it read an unparsable second card as 0 and divided by it (SIGFPE, found
    /// by FuzzFITS). The value is read from the column after "=" (cfitsio does not require the
    /// blank there: "ZTILE1  =0   8" is a tile size of 0 to it). Any value that is neither a
    /// quoted string nor a token of at most 68 characters is refused (cfitsio overflows a buffer
    /// on it).
    static func checkTileKeywords(_ file: InputFile) throws {
        var offset = 0
        var hdus = 0
        while offset < file.size, hdus < 10_000 {
            var values: [String: Int] = [:]
            var tileKeys: Set<String> = []
            var compression = ""
            var ended = false
            var block = offset
            while !ended, block < file.size {
                // A short last block is read as cfitsio sees it (zero-padded).
                var bytes = try file.bytes(at: block, count: min(2880, file.size - block), what: "a header")
                bytes += [UInt8](repeating: 0, count: 2880 - bytes.count)
                for card in 0..<36 {
                    let c = bytes[(card * 80)..<(card * 80 + 80)]
                    // The keyword's name as cfitsio reads it (ffgknm): up to the first blank or
                    // "=" within the first 8 bytes, so "END  =  T" ends the header for cfitsio too
                    // (a header that only ended there for cfitsio got past this check: SIGFPE,
                    // found by FuzzFITS).
                    let key = String(decoding: c.prefix(8).prefix(while: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "=") }), as: UTF8.self)
                    if key == "END" { ended = true; break }
                    guard c.count >= 10, c[c.startIndex + 8] == UInt8(ascii: "=") else { continue }
                    // A value that is not a quoted string is one token (a number or T/F). One
                    // of 69-70 characters is not a FITS value, and cfitsio copies it into its
                    // 70-byte column-name buffer with strcpy (TTYPEn: buffer overflow, abort,
                    // found by FuzzFITS).
                    let field = c.dropFirst(9).drop(while: { $0 == UInt8(ascii: " ") })
                    if field.first != UInt8(ascii: "'") {
                        let token = field.prefix(while: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "/") })
                        guard token.count <= 68 else {
                            throw PeaksError.file(path: file.path, reason: "invalid FITS header in HDU \(hdus): the value of \(key.isEmpty ? "a keyword" : key) is \(token.count) characters without quotes")
                        }
                    }
                    let text = String(decoding: c.dropFirst(9).prefix(while: { $0 != UInt8(ascii: "/") }), as: UTF8.self).trimmingSpaces()
                    if let v = Int(text) { values[key] = v }
                    if key == "ZCMPTYPE" {
                        compression = text.uppercased().filter { $0 != "'" }.split(separator: " ").first.map(String.init) ?? ""
                    }
                    if ["ZTILE", "ZNAXIS", "ZBITPIX", "ZVAL"].contains(where: { key.hasPrefix($0) }) {
                        guard Int(text) != nil, tileKeys.insert(key).inserted else {
                            throw PeaksError.file(path: file.path, reason: "invalid tile-compressed image in HDU \(hdus): \(key) is repeated or not an integer")
                        }
                    }
                }
                block += 2880
            }
            guard ended else { return }  // cfitsio reports the broken header
            for (key, v) in values where key.hasPrefix("ZTILE") && v < 1 {
                throw PeaksError.file(path: file.path, reason: "invalid tile-compressed image in HDU \(hdus): \(key) = \(v)")
            }
            // RICE_1's block size as cfitsio reads it (ZVAL1, default 32; swapped with BYTEPIX when
            // given the other way round, as `RiceCheck`): cfitsio divides by it while it opens
            // the HDU (imcomp_calc_max_elem: SIGFPE on ZVAL1 = 0, found by FuzzFITS).
            if compression == "RICE_1" || compression == "RICE_ONE" {
                let block = RiceTiles.riceParameters(zval1: values["ZVAL1"], zval2: values["ZVAL2"]).blockSize
                guard block >= 1 else {
                    throw PeaksError.file(path: file.path, reason: "invalid tile-compressed image in HDU \(hdus): RICE_1 BLOCKSIZE = \(block)")
                }
            }
            let bits = abs(values["BITPIX"] ?? 8)
            let naxis = values["NAXIS"] ?? 0
            var n = naxis > 0 ? 1 : 0
            for k in 0..<min(max(naxis, 0), 999) {
                guard let (p, o) = Optional(n.multipliedReportingOverflow(by: max(values["NAXIS\(k + 1)"] ?? 0, 0))), !o else { return }
                n = p
            }
            let (count, o1) = (n + max(values["PCOUNT"] ?? 0, 0)).multipliedReportingOverflow(by: max(values["GCOUNT"] ?? 1, 0))
            let (bytes, o2) = count.multipliedReportingOverflow(by: max(bits / 8, 1))
            guard !o1, !o2, bytes < Int.max / 2 else { return }
            offset = block + (bytes + 2879) / 2880 * 2880
            hdus += 1
        }
    }

    static func cText(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func typeName(_ equivalent: Int32) -> String {
        switch equivalent {
        case 8: return "uint8"
        case 10: return "int8"
        case 16: return "int16"
        case 20: return "uint16"
        case 32: return "int32"
        case 40: return "uint32"
        case 64: return "int64"
        case 80: return "uint64"
        case -32: return "float32"
        case -64: return "float64"
        default: return "BITPIX \(equivalent)"
        }
    }
}

/// The header probe (Sources/CFITSIO/probe.h): cfitsio parses every HDU's header when a file is
/// opened and its HDUs counted, and forged headers have crashed it there (divisions by zero,
/// buffer overflows: Fuzz/Known/FuzzFITS). `FITS.checkTileKeywords` refuses the values known to
/// do that; for the rest, a fork()ed child makes the reader's header calls first, and a child
/// that crashes, exits abnormally (a sanitizer report) or runs past the timeout makes the file
/// "corrupt FITS header"; the parent then never parses it. About 1-2 ms per file.
///
/// `PEAKS_FITS_PROBE_TIMEOUT` (seconds, default 10) bounds the child; `PEAKS_FITS_PROBE=off`
/// skips it (trusted files only); `PEAKS_FITS_PROBE_STDERR=1` lets the child's standard error
/// through (for debugging).
enum FITSProbe {
    /// The probe's settings (`PEAKS_FITS_PROBE`, `_TIMEOUT`, `_STDERR`) and messages.
    static let probe = ChildProbe(prefix: "PEAKS_FITS_PROBE", subject: "FITS header", library: "cfitsio")

    /// Throws when the child did not survive the header calls on `file`; returns the child's
    /// time in seconds (nil when the probe is off).
    @discardableResult
    static func run(_ file: InputFile, timeout: Double? = nil, probe enabled: Bool = probe.enabled) throws -> Double? {
        guard enabled else { return nil }
        let limit = timeout ?? probe.timeout
        let out: cfits_probe_outcome
        if file.isOnDisk {
            out = cfits_probe(file.path, nil, 0, limit, probe.keepStderr)
        } else {
            let bytes = try file.all(limit: Int.max)
            out = bytes.withUnsafeBytes { cfits_probe(nil, $0.baseAddress, $0.count, limit, probe.keepStderr) }
        }
        guard out.state == Int32(CFITS_PROBE_DONE) else {
            throw PeaksError.file(path: file.path, reason: probe.reason(ChildProbe.Ending(rawValue: out.state) ?? .failed, detail: out.detail, limit: limit))
        }
        return out.seconds
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

/// One open fitsfile, used by one thread at a time.
final class FITSHandle: @unchecked Sendable {
    var fptr: UnsafeMutablePointer<fitsfile>?
    /// An in-memory file's bytes (cfitsio reads them in place; they live as long as the handle).
    private let memory: UnsafeMutableRawPointer?
    private var memoryPointer: UnsafeMutableRawPointer?
    private var memorySize: Int = 0
    let path: String

    init(file: InputFile) throws {
        path = file.path
        var status: Int32 = 0
        var f: UnsafeMutablePointer<fitsfile>?
        if file.isOnDisk {
            memory = nil
            // ffdkopn = fits_open_diskfile: the path literally, no extended filename syntax.
            ffdkopn(&f, file.path, READONLY, &status)
        } else {
            // cfitsio's memory driver reads whole 2880-byte records: the copy is zero-padded to a
            // multiple of 2880 (found by FuzzFITS: a heap overflow past a short buffer). Short
            // files are still refused: FITSFrames checks the data against `file.size`.
            let bytes = try file.all(limit: Int.max)
            let padded = (bytes.count + 2879) / 2880 * 2880
            let raw = UnsafeMutableRawPointer.allocate(byteCount: padded, alignment: 16)
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: padded)
            bytes.withUnsafeBytes { raw.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            memory = raw
            memoryPointer = raw
            memorySize = padded
            ffomem(&f, "peaks-memory.fits", READONLY, &memoryPointer, &memorySize, 0, nil, &status)
        }
        // On failure deinit (which runs once every property is set) closes and frees.
        fptr = f
        guard status == 0, f != nil else {
            throw PeaksError.file(path: file.path, reason: "invalid FITS: \(FITS.message(status))")
        }
    }

    deinit {
        var status: Int32 = 0
        if let fptr { ffclos(fptr, &status) }
        memory?.deallocate()
    }

    func fail(_ what: String, _ status: Int32) -> PeaksError {
        PeaksError.file(path: path, reason: "\(what): \(FITS.message(status))")
    }

    /// The number of HDUs.
    func hduCount() throws -> Int {
        var n: Int32 = 0, status: Int32 = 0
        ffthdu(fptr, &n, &status)
        if status != 0 { throw fail("invalid FITS", status) }
        return Int(n)
    }

    /// Moves to HDU `index` (0-based); returns its type (IMAGE_HDU, ASCII_TBL, BINARY_TBL).
    func move(to index: Int) throws -> Int32 {
        var type: Int32 = 0, status: Int32 = 0
        ffmahd(fptr, Int32(index + 1), &type, &status)
        if status != 0 { throw fail("cannot read HDU \(index)", status) }
        return type
    }

    /// The current image HDU's axes (NAXIS1 first).
    func axes() throws -> [Int] {
        var naxis: Int32 = 0, status: Int32 = 0
        ffgidm(fptr, &naxis, &status)
        if status != 0 { throw fail("invalid image header", status) }
        guard naxis >= 0, naxis <= 999 else { throw PeaksError.file(path: path, reason: "invalid FITS: NAXIS = \(naxis)") }
        if naxis == 0 { return [] }
        var sizes = [Int](repeating: 0, count: Int(naxis))
        ffgisz(fptr, naxis, &sizes, &status)
        if status != 0 { throw fail("invalid image header", status) }
        return sizes
    }
}

final class FITSFrames: FrameSource {
    let path: String
    let formatName = "FITS"
    let layout: FrameLayout
    let metadata: [(String, Value)]
    let nanMeansInvalid = true
    let hdu: Int
    private let file: InputFile
    private let idle = Mutex<[FITSHandle]>([])
    /// RICE_1 tiles, checked before cfitsio decodes them (FITSRice.swift).
    private let rice: RiceTiles?

    init(file: InputFile, options: OpenOptions) throws {
        path = file.path
        self.file = file
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: file.path, reason: reason) }
        try FITS.checkTileKeywords(file)
        // libcfitsio is loaded on first use (Sources/_PeaksLazyLibraries).
        if let reason = cfits_load() { throw fail(String(cString: reason)) }
        try FITSProbe.run(file)
        let h = try FITSHandle(file: file)
        let count = try h.hduCount()
        var chosen: Int?
        var axes: [Int] = []
        var summary: [String] = []
        func kind(_ type: Int32) -> String {
            switch type {
            case Int32(IMAGE_HDU): return "image"
            case Int32(ASCII_TBL): return "ASCII table"
            case Int32(BINARY_TBL): return "binary table"
            default: return "HDU type \(type)"
            }
        }
        func shape(_ a: [Int]) -> String { a.isEmpty ? "no data" : a.map(String.init).joined(separator: "x") }
        if let wanted = options.hdu {
            guard wanted >= 0, wanted < count else {
                throw fail("HDU \(wanted) does not exist (the file has \(count) HDU\(count == 1 ? "" : "s"), 0 to \(count - 1))")
            }
            let type = try h.move(to: wanted)
            guard type == Int32(IMAGE_HDU) else { throw fail("HDU \(wanted) is a \(kind(type)), not an image") }
            axes = try h.axes()
            guard axes.count >= 2 else { throw fail("HDU \(wanted) holds no image (NAXIS = \(axes.count))") }
            chosen = wanted
        } else {
            for i in 0..<min(count, 10_000) {
                let type = try h.move(to: i)
                let a = type == Int32(IMAGE_HDU) ? try h.axes() : []
                summary.append("\(i): \(kind(type))\(type == Int32(IMAGE_HDU) ? " " + shape(a) : "")")
                if type == Int32(IMAGE_HDU), a.count >= 2 {
                    chosen = i
                    axes = a
                    break
                }
            }
        }
        guard let hdu = chosen else {
            throw fail("no image HDU (\(summary.prefix(10).joined(separator: ", "))\(summary.count > 10 ? ", ..." : ""))")
        }
        self.hdu = hdu
        let w = axes[0], hgt = axes[1]
        guard axes.allSatisfy({ $0 >= 1 }) else { throw fail("HDU \(hdu) has an empty image (\(shape(axes)))") }
        guard axes.count <= 4 || axes[4...].allSatisfy({ $0 == 1 }) else {
            throw fail("HDU \(hdu) has \(axes.count) axes (\(shape(axes))); read are 2 (image), 3 (cube) or 4 (scan)")
        }
        try ReadLimits.checkFrame(width: w, height: hgt, path: file.path)
        guard let frames = ReadLimits.product(Array(axes[2...])), frames >= 1,
              ReadLimits.product([frames, w, hgt]) != nil else {
            throw fail("HDU \(hdu) is too large to address (\(shape(axes)))")
        }
        var status: Int32 = 0
        var equivalent: Int32 = 0
        ffgiet(h.fptr, &equivalent, &status)
        if status != 0 { throw h.fail("invalid image header", status) }
        // cfitsio reads zeros past the end of a short file: check that the data is all there
        // (the data of an uncompressed image exactly; any HDU up to its last 2880-byte block).
        var headStart: Int64 = 0, dataStart: Int64 = 0, dataEnd: Int64 = 0
        ffghadll(h.fptr, &headStart, &dataStart, &dataEnd, &status)
        if status != 0 { throw h.fail("invalid image header", status) }
        var compressedFlag: Int32 = 0
        let compressed = fits_is_compressed_image(h.fptr, &compressedFlag) == 1
        status = 0
        var bitpix: Int32 = 0
        ffgidt(h.fptr, &bitpix, &status)
        if status != 0 { throw h.fail("invalid image header", status) }
        let needed: Int64
        if !compressed, let pixels = ReadLimits.product(axes), let bytes = ReadLimits.product([pixels, Int(abs(bitpix)) / 8]) {
            needed = dataStart + Int64(bytes)
        } else {
            needed = dataEnd - 2879
        }
        guard Int64(file.size) >= needed else {
            throw fail("truncated: HDU \(hdu)'s data needs \(needed) bytes, the file has \(file.size)")
        }
        rice = compressed ? try RiceTiles(h, axes: axes, dataStart: Int(dataStart), file: file) : nil
        let scan = axes.count >= 4 && axes[3] > 1 ? ScanShape(height: axes[3], width: axes[2]) : nil
        layout = FrameLayout(width: w, height: hgt, frameCount: frames, scan: scan, sampleType: FITS.typeName(equivalent))
        var meta: [(String, Value)] = [("hdu", .integer(hdu))]
        if compressed { meta.append(("tile_compressed", .bool(true))) }
        var blank: Int64 = 0
        ffgkyjj(h.fptr, "BLANK", &blank, nil, &status)
        if status == 0 { meta.append(("blank", .integer(Int(blank)))) }
        status = 0
        ffcmsg()
        metadata = meta
        idle.withLock { $0.append(h) }
    }

    func readFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try checkFrameIndex(index)
        let h = try idle.withLock { $0.popLast() } ?? FITSHandle(file: file)
        let n = layout.pixelsPerFrame
        var status: Int32 = 0
        var type: Int32 = 0
        ffmahd(h.fptr, Int32(hdu + 1), &type, &status)
        var null = Float.nan
        var anyNull: Int32 = 0
        if status == 0, let rice {
            do { try rice.check(frame: index, h, file: file) } catch { idle.withLock { $0.append(h) }; throw error }
        }
        if status == 0 {
            ffgpv(h.fptr, TFLOAT, Int64(index) * Int64(n) + 1, Int64(n), &null, buffer.baseAddress, &anyNull, &status)
        }
        // A handle that failed is dropped.
        if status != 0 { throw h.fail("cannot read frame \(index) of HDU \(hdu)", status) }
        idle.withLock { $0.append(h) }
    }
}

extension ImageFormat {
    /// FITS through cfitsio: the primary image or the first image extension, `--hdu N`.
    public static let fits = ImageFormat(
        name: "FITS",
        summary: "FITS: primary image or first image extension (--hdu N), BITPIX 8/16/32/64/-32/-64 with BZERO/BSCALE, BLANK and NaN = invalid pixels, tile-compressed images, cubes = stacks",
        extensions: ["fits", "fit", "fts", "fz"], readsStacks: true,
        recognize: { head, _ in FITS.recognize(head) },
        open: { file, options in try FITSFrames(file: file, options: options) })
}
