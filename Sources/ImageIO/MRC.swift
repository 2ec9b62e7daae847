import PeakKit

/// MRC / MRCS files (MRC2014; also the older CCP4/IMOD variants that differ only in the stamps).
///
/// The 1024-byte header gives NX (columns), NY (rows), NZ (sections), MODE (the element type),
/// NSYMBT (bytes of extended header after the main header, skipped) and the machine stamp MACHST
/// (bytes 212-215: 0x44 0x44/0x41 = little-endian, 0x11 0x11 = big-endian). Every section is a
/// frame: an image stack (`.mrcs`, ISPG 0), a volume or a stack of volumes all read as NZ frames
/// of NX × NY. Rows are in file order, as mrcfile's `data[z, y, x]` array has them.
///
/// Modes read: 0 int8 (signed, as mrcfile reads it whatever the file's age), 1 int16, 2 float32,
/// 6 uint16, 12 float16. Modes 3/4 (complex) and 101 (4-bit) are refused with a clear message.
/// The byte order comes from the machine stamp; when the stamp is unknown, little-endian is
/// assumed, and when the mode is only valid in the other order that order is used (mrcfile's
/// permissive rule).
public enum MRC {
    public static let headerSize = 1024

    /// The parsed and checked main header.
    public struct Header: Sendable, Equatable {
        public let nx: Int, ny: Int, nz: Int
        public let mode: Int
        public let sample: SampleFormat
        public let bigEndian: Bool
        public let extendedHeaderBytes: Int
        public let dataOffset: Int
        /// Cell dimensions (Å) and sampling: voxel size = cella / (mx, my, mz).
        public let cella: (x: Float, y: Float, z: Float)
        public let sampling: (mx: Int, my: Int, mz: Int)
        public let spaceGroup: Int
        public let hasMapStamp: Bool

        public static func == (a: Header, b: Header) -> Bool {
            a.nx == b.nx && a.ny == b.ny && a.nz == b.nz && a.mode == b.mode && a.bigEndian == b.bigEndian
                && a.dataOffset == b.dataOffset
        }

        /// Voxel size in Å per axis (nil where the sampling is 0).
        public var voxelSize: (x: Double?, y: Double?, z: Double?) {
            func v(_ c: Float, _ m: Int) -> Double? { m > 0 ? Double(c) / Double(m) : nil }
            return (v(cella.x, sampling.mx), v(cella.y, sampling.my), v(cella.z, sampling.mz))
        }
    }

    static func sample(forMode mode: Int32, bigEndian: Bool) -> SampleFormat? {
        switch mode {
        case 0: return .init(.signed, size: 1, bigEndian: bigEndian)
        case 1: return .int16(bigEndian: bigEndian)
        case 2: return .float32(bigEndian: bigEndian)
        case 6: return .uint16(bigEndian: bigEndian)
        case 12: return .init(.float, size: 2, bigEndian: bigEndian)
        default: return nil
        }
    }

    static let knownModes: Set<Int32> = [0, 1, 2, 3, 4, 6, 12, 101]

    /// Byte order from the machine stamp: true = big-endian, nil = unknown stamp.
    static func stampOrder(_ head: [UInt8]) -> Bool? {
        guard head.count >= 214 else { return nil }
        if head[212] == 0x44 && (head[213] == 0x44 || head[213] == 0x41) { return false }
        if head[212] == 0x11 && head[213] == 0x11 { return true }
        return nil
    }

    /// The byte order to read the header in (mrcfile's permissive rule).
    static func byteOrder(_ head: [UInt8]) -> Bool {
        let stamped = stampOrder(head) ?? false
        let mode = ByteFields(head, bigEndian: stamped).i32(12) ?? 0
        if !knownModes.contains(mode), let other = ByteFields(head, bigEndian: !stamped).i32(12), knownModes.contains(other) {
            return !stamped
        }
        return stamped
    }

    /// How sure we are that `head` starts an MRC file.
    static func recognize(_ head: [UInt8], fileSize: Int) -> Recognition {
        if head.has("MAP ", at: 208) || head.has("MAP\0", at: 208) { return .strong }
        guard head.count >= 224, fileSize >= headerSize else { return .no }
        let f = ByteFields(head, bigEndian: byteOrder(head))
        guard let nx = f.i32(0), let ny = f.i32(4), let nz = f.i32(8), let mode = f.i32(12), let ext = f.i32(92),
              nx > 0, ny > 0, nz > 0, knownModes.contains(mode), ext >= 0, Int(ext) <= fileSize - headerSize
        else { return .no }
        return .weak
    }

    /// Parses and checks the header against the file's size.
    public static func header(_ head: [UInt8], fileSize: Int, path: String) throws -> Header {
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: path, reason: reason) }
        guard head.count >= headerSize else {
            throw fail("truncated MRC header: \(head.count) bytes, an MRC header has \(headerSize)")
        }
        let big = byteOrder(head)
        let f = ByteFields(head, bigEndian: big)
        // Every field below lies inside the 1024 bytes checked above.
        let nx = Int(f.i32(0) ?? 0), ny = Int(f.i32(4) ?? 0), nz = Int(f.i32(8) ?? 0)
        let mode = f.i32(12) ?? -1
        guard nx > 0, ny > 0, nz > 0 else {
            throw fail("MRC header declares \(nx) x \(ny) x \(nz) (NX x NY x NZ); every size must be at least 1")
        }
        guard let sample = sample(forMode: mode, bigEndian: big) else {
            switch mode {
            case 3, 4:
                throw fail("unsupported MRC mode \(mode) (complex \(mode == 3 ? "int16" : "float32") data, e.g. a Fourier transform): peaks reads real images (modes 0, 1, 2, 6, 12)")
            case 101:
                throw fail("unsupported MRC mode 101 (4-bit packed data): supported modes are 0, 1, 2, 6, 12")
            default:
                throw fail("unsupported MRC mode \(mode) (supported: 0 int8, 1 int16, 2 float32, 6 uint16, 12 float16)")
            }
        }
        let ext = Int(f.i32(92) ?? 0)
        guard ext >= 0, ext <= fileSize - headerSize else {
            throw fail("truncated: the MRC extended header claims \(ext) bytes (NSYMBT), the file has \(max(fileSize - headerSize, 0)) after the main header")
        }
        let stamp = head.has("MAP ", at: 208) || head.has("MAP\0", at: 208)
        return Header(
            nx: nx, ny: ny, nz: nz, mode: Int(mode), sample: sample, bigEndian: big,
            extendedHeaderBytes: ext, dataOffset: headerSize + ext,
            cella: (f.f32(40) ?? 0, f.f32(44) ?? 0, f.f32(48) ?? 0),
            sampling: (Int(f.i32(28) ?? 0), Int(f.i32(32) ?? 0), Int(f.i32(36) ?? 0)),
            spaceGroup: Int(f.i32(88) ?? 0), hasMapStamp: stamp)
    }
}

/// The sections of an MRC file as frames, read with `pread` one at a time.
final class MRCFrames: FrameSource {
    let path: String
    let formatName = "MRC"
    let layout: FrameLayout
    let header: MRC.Header
    let frames: ContiguousFrames
    let metadata: [(String, Value)]

    init(file: InputFile) throws {
        let head = try file.head(MRC.headerSize)
        let h = try MRC.header(head, fileSize: file.size, path: file.path)
        try ReadLimits.checkFrame(width: h.nx, height: h.ny, path: file.path)
        path = file.path
        header = h
        layout = FrameLayout(width: h.nx, height: h.ny, frameCount: h.nz, sampleType: h.sample.description)
        frames = try ContiguousFrames(
            file: file, sample: h.sample, firstOffset: h.dataOffset, pixelsPerFrame: h.nx &* h.ny,
            frameCount: h.nz, what: "the MRC data")
        var meta: [(String, Value)] = [("mrc_mode", .integer(h.mode))]
        let voxel = h.voxelSize
        if let x = voxel.x { meta.append(("voxel_size_x_angstrom", .number(x))) }
        if let y = voxel.y { meta.append(("voxel_size_y_angstrom", .number(y))) }
        if let z = voxel.z { meta.append(("voxel_size_z_angstrom", .number(z))) }
        meta.append(("space_group", .integer(h.spaceGroup)))
        if h.extendedHeaderBytes > 0 { meta.append(("extended_header_bytes", .integer(h.extendedHeaderBytes))) }
        metadata = meta
    }

    func readFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try checkFrameIndex(index)
        try frames.read(index, into: buffer)
    }

    func readMaskFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Bool>) throws {
        try checkFrameIndex(index)
        try frames.readMask(index, into: buffer)
    }
}

extension ImageFormat {
    /// MRC2014 / MRCS: every section a frame.
    public static let mrc = ImageFormat(
        name: "MRC",
        summary: "MRC2014 / MRCS (cryo-EM, tomography): modes 0 int8, 1 int16, 2 float32, 6 uint16, 12 float16, either byte order; every section (NZ) a frame; extended header skipped; voxel size in metadata",
        extensions: ["mrc", "mrcs", "st", "ali", "map", "rec"], readsStacks: true,
        recognize: { head, size in MRC.recognize(head, fileSize: size) },
        open: { file, _ in try MRCFrames(file: file) })
}
