import CFITSIO
import PeakKit
import Synchronization

/// RICE_1 tiles are checked before cfitsio decodes them.
///
/// cfitsio 4.2.0's Rice decoder (`fits_rdecomp`, `_short`, `_byte` in ricecomp.c) checks for the
/// end of the compressed bytes only after each block of pixels; inside a block it reads on, and a
/// run of zero bytes sends its leading-zero loop far past the buffer (SEGV, found by FuzzFITS:
/// Fuzz/Known/FuzzFITS). `RiceCheck.fits` runs the same algorithm (the bit reader only: same
/// reads, same branch on each FS code) with every read bounds-checked, so a tile is handed to
/// cfitsio only when decoding it stays inside its bytes. Tiles are checked once, by frame, when a
/// frame is first read.
enum RiceCheck {
    /// Number of significant bits of a byte (cfitsio's `nonzero_count`).
    static let significant: [Int] = (0..<256).map { $0 == 0 ? 0 : 32 - UInt32($0).leadingZeroBitCount }

    /// True when decoding `nx` pixels (blocks of `blockSize`) from `c` reads only inside `c`.
    /// `bytePix` chooses cfitsio's variant: 1 (`fits_rdecomp_byte`), 2 (`_short`), else 4.
    static func fits(_ c: [UInt8], nx: Int, blockSize: Int, bytePix: Int) -> Bool {
        let (fsbits, fsmax, first): (Int, Int, Int) = bytePix == 1 ? (3, 6, 1) : bytePix == 2 ? (4, 14, 2) : (5, 25, 4)
        let bbits = 1 << fsbits
        guard blockSize >= 1, nx >= 0 else { return false }
        var p = first
        guard p < c.count else { return false }
        var b = UInt32(c[p]); p += 1
        var nbits = 8
        var i = 0
        while i < nx {
            nbits -= fsbits
            while nbits < 0 {
                guard p < c.count else { return false }
                b = (b &<< 8) | UInt32(c[p]); p += 1
                nbits += 8
            }
            let fs = Int(b >> UInt32(nbits)) - 1
            b &= (1 << UInt32(nbits)) &- 1
            let imax = min(i + blockSize, nx)
            if fs < 0 {
                i = imax
            } else if fs == fsmax {
                // Each pixel: the bytes that complete bbits bits, one more when bits remain.
                for _ in i..<imax {
                    var k = bbits - nbits - 8
                    while k >= 0 {
                        guard p < c.count else { return false }
                        b = UInt32(c[p]); p += 1
                        k -= 8
                    }
                    if nbits > 0 {
                        guard p < c.count else { return false }
                        b = UInt32(c[p]) & ((1 << UInt32(nbits)) - 1); p += 1
                    } else {
                        b = 0
                    }
                }
                i = imax
            } else {
                for _ in i..<imax {
                    while b == 0 {
                        guard p < c.count else { return false }
                        nbits += 8
                        b = UInt32(c[p]); p += 1
                    }
                    // b < 256 here (a byte, or a remainder of fewer than 8 bits).
                    let nzero = nbits - significant[Int(b & 0xFF)]
                    nbits -= nzero + 1
                    b ^= 1 << UInt32(nbits)
                    nbits -= fs
                    while nbits < 0 {
                        guard p < c.count else { return false }
                        b = (b &<< 8) | UInt32(c[p]); p += 1
                        nbits += 8
                    }
                    b &= (1 << UInt32(nbits)) &- 1
                }
                i = imax
            }
        }
        return true
    }
}

/// The tiles of a RICE_1 tile-compressed image HDU and which of them were checked.
final class RiceTiles: @unchecked Sendable {
    let axes: [Int]
    let tile: [Int]
    let tilesPerAxis: [Int]
    let column: Int32
    let rows: Int
    /// Absolute file offsets of the heap and of the end of the HDU's data (table + heap).
    let heapStart: Int
    let dataEnd: Int
    let blockSize: Int
    let bytePix: Int
    private let checked = Mutex<Set<Int>>([])

    /// RICE_1's (BLOCKSIZE, BYTEPIX) as cfitsio reads them: ZVAL1 and ZVAL2 (defaults 32 and 4),
    /// swapped when given the other way round.
    static func riceParameters(zval1: Int?, zval2: Int?) -> (blockSize: Int, bytePix: Int) {
        var block = zval1 ?? 32, bytes = zval2 ?? 4
        if block < 16 && bytes > 8 { swap(&block, &bytes) }
        return (block, bytes)
    }

    /// nil when the HDU is not RICE_1-compressed. Reads the keywords cfitsio reads (ZTILEn,
    /// ZVAL1 = BLOCKSIZE, ZVAL2 = BYTEPIX, swapped when given the other way round) and refuses
    /// values it cannot decode safely.
    init?(_ h: FITSHandle, axes: [Int], dataStart: Int, file: InputFile) throws {
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: file.path, reason: "invalid tile-compressed image: \(reason)") }
        var status: Int32 = 0
        var text = [CChar](repeating: 0, count: 80)
        ffgkys(h.fptr, "ZCMPTYPE", &text, nil, &status)
        guard status == 0 else { return nil }
        let type = FITS.cText(text).uppercased().split(separator: " ").first.map(String.init) ?? ""
        guard type == "RICE_1" || type == "RICE_ONE" else { return nil }
        func key(_ name: String) -> Int? {
            var v: Int64 = 0, s: Int32 = 0
            ffgkyjj(h.fptr, name, &v, nil, &s)
            return s == 0 ? Int(v) : nil
        }
        let (block, bytes) = Self.riceParameters(zval1: key("ZVAL1"), zval2: key("ZVAL2"))
        guard block >= 1, block <= 1 << 20 else { throw fail("BLOCKSIZE = \(block)") }
        guard [1, 2, 4, 8].contains(bytes) else { throw fail("BYTEPIX = \(bytes)") }
        blockSize = block
        bytePix = bytes
        self.axes = axes
        let tile = axes.indices.map { k in min(max(key("ZTILE\(k + 1)") ?? (k == 0 ? axes[0] : 1), 1), axes[k]) }
        self.tile = tile
        let tilesPerAxis = axes.indices.map { (axes[$0] + tile[$0] - 1) / tile[$0] }
        self.tilesPerAxis = tilesPerAxis
        var col: Int32 = 0
        var name = Array("COMPRESSED_DATA".utf8CString)
        ffgcno(h.fptr, 0, &name, &col, &status)
        guard status == 0 else { throw fail("no COMPRESSED_DATA column") }
        var typecode: Int32 = 0, repeatCount: Int64 = 0, width: Int64 = 0
        ffgtclll(h.fptr, col, &typecode, &repeatCount, &width, &status)
        guard status == 0, typecode == -Int32(TBYTE) else { throw fail("COMPRESSED_DATA is not a byte array column") }
        guard let rowBytes = key("NAXIS1"), let rowCount = key("NAXIS2"), rowBytes >= 0, rowCount >= 0,
              let table = ReadLimits.product([rowBytes, rowCount]) else { throw fail("table size") }
        let theap = key("THEAP") ?? table
        let pcount = key("PCOUNT") ?? 0
        guard theap >= 0, pcount >= 0, theap <= table + pcount else { throw fail("THEAP = \(theap)") }
        rows = rowCount
        column = col
        heapStart = dataStart + theap
        dataEnd = min(dataStart + table + pcount, file.size)
        guard let n = ReadLimits.product(tilesPerAxis), n <= rows else {
            throw fail("\(tilesPerAxis.map(String.init).joined(separator: "x")) tiles, \(rows) rows")
        }
    }

    /// Checks (once each) the tiles that hold frame `index` (axes 3 and up flattened).
    func check(frame index: Int, _ h: FITSHandle, file: InputFile) throws {
        var fixed = [Int](repeating: -1, count: axes.count)
        var rest = index
        for k in 2..<axes.count {
            fixed[k] = (rest % axes[k]) / tile[k]
            rest /= axes[k]
        }
        var at = fixed.map { max($0, 0) }
        while true {
            var row = 0, stride = 1, pixels = 1
            for k in axes.indices {
                row += at[k] * stride
                stride *= tilesPerAxis[k]
                pixels *= min(tile[k], axes[k] - at[k] * tile[k])
            }
            if !checked.withLock({ $0.contains(row) }) {
                try checkTile(row: row, pixels: pixels, h, file: file)
                checked.withLock { _ = $0.insert(row) }
            }
            var k = 0
            while k < axes.count {
                if fixed[k] < 0 {
                    at[k] += 1
                    if at[k] < tilesPerAxis[k] { break }
                    at[k] = 0
                }
                k += 1
            }
            if k == axes.count { return }
        }
    }

    private func checkTile(row: Int, pixels: Int, _ h: FITSHandle, file: InputFile) throws {
        var length: Int64 = 0, offset: Int64 = 0, status: Int32 = 0
        ffgdesll(h.fptr, column, Int64(row + 1), &length, &offset, &status)
        if status != 0 { throw h.fail("cannot read tile \(row + 1)", status) }
        if length == 0 { return }  // stored uncompressed or as null pixels: not Rice-decoded
        guard length > 0, offset >= 0, length <= Int64(dataEnd), offset <= Int64(dataEnd),
              heapStart + Int(offset) + Int(length) <= dataEnd else {
            throw PeaksError.file(path: file.path, reason: "invalid tile-compressed image: tile \(row + 1) (\(length) bytes at heap offset \(offset)) lies outside the heap")
        }
        let bytes = try file.bytes(at: heapStart + Int(offset), count: Int(length), what: "a compressed tile")
        guard RiceCheck.fits(bytes, nx: pixels, blockSize: blockSize, bytePix: bytePix) else {
            throw PeaksError.file(path: file.path, reason: "corrupt tile-compressed image: RICE tile \(row + 1) runs past its \(length) bytes")
        }
    }
}
