#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PeakKit

/// The scan grid of 4-D data (scan_y, scan_x, h, w): frame = scan_y × width + scan_x.
public struct ScanShape: Sendable, Equatable, CustomStringConvertible {
    public let height: Int
    public let width: Int
    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }
    public var count: Int { height &* width }
    /// `WxH`, as `--scan` takes it.
    public var description: String { "\(width)x\(height)" }

    /// (scan_y, scan_x) of a frame.
    public func position(ofFrame index: Int) -> (y: Int, x: Int) { (index / width, index % width) }
}

/// The shape of a file's frames: how many, how large, what the file stores.
public struct FrameLayout: Sendable, Equatable {
    /// Columns of one frame.
    public let width: Int
    /// Rows of one frame.
    public let height: Int
    /// Frames in the file (1 for a single image).
    public let frameCount: Int
    /// The scan grid when the data is 4-D (or reshaped with `--scan`); `scan.count == frameCount`.
    public let scan: ScanShape?
    /// The element type as stored, e.g. `uint16`, `float32`, `rgb8` (for messages and `peaks formats`).
    public let sampleType: String

    public init(width: Int, height: Int, frameCount: Int, scan: ScanShape? = nil, sampleType: String) {
        self.width = width
        self.height = height
        self.frameCount = frameCount
        self.scan = scan
        self.sampleType = sampleType
    }

    /// Pixels of one frame.
    public var pixelsPerFrame: Int { width &* height }
    /// True when the file holds more than one frame or a scan grid.
    public var isStack: Bool { frameCount != 1 || scan != nil }
}

/// The frames of one file, read lazily: a 50 GB stack is never loaded whole. Readers check every
/// size their header declares against the file before allocating anything.
///
/// Conforming types are classes owning an open file. `readFrame` may be called from several
/// threads at once: a reader whose library is not thread-safe serialises inside.
public protocol FrameSource: AnyObject, Sendable {
    /// The file the frames come from (for messages and output headers).
    var path: String { get }
    /// The format's name in the registry (`NPY`, `PNG`, `TIFF`, ...).
    var formatName: String { get }
    var layout: FrameLayout { get }
    /// Calibration and header facts worth reporting (pixel size, units, exposure, ...), in a
    /// fixed order.
    var metadata: [(String, Value)] { get }
    /// True when NaN pixels of this source mean "no data" (FITS BLANK, masked values), so the
    /// detection treats them as invalid pixels rather than refusing the frame.
    var nanMeansInvalid: Bool { get }

    /// Reads frame `index` (0 ..< frameCount) into `buffer` (`width * height` Floats, row-major:
    /// pixel (x, y) at `y * width + x`).
    ///
    /// - Parameters:
    ///   - index: The frame, 0-based in file order.
    ///   - buffer: The destination; exactly `layout.pixelsPerFrame` elements.
    /// - Throws: `PeaksError.file` naming the file and what is wrong (truncated, corrupt).
    func readFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws

    /// Reads frame `index` as a mask: `true` = valid (non-zero and not NaN in the stored value).
    /// The default converts `readFrame`'s Floats; readers override it when the stored values
    /// carry more (a float64 of 1e-300 is non-zero although its Float is 0).
    func readMaskFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Bool>) throws
}

extension FrameSource {
    public var metadata: [(String, Value)] { [] }
    public var nanMeansInvalid: Bool { false }

    public func readMaskFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Bool>) throws {
        let n = layout.pixelsPerFrame
        var values = [Float](repeating: 0, count: n)
        try values.withUnsafeMutableBufferPointer { try readFrame(index, into: $0) }
        values.withUnsafeBufferPointer { v in
            for i in 0..<n { buffer[i] = v[i] != 0 && !v[i].isNaN }
        }
    }

    /// Reads frame `index` into a new `Image`.
    ///
    /// - Parameter index: The frame, 0-based.
    /// - Returns: The frame's pixels.
    public func frame(_ index: Int) throws -> Image {
        try checkFrameIndex(index)
        let n = layout.pixelsPerFrame
        let pixels = try [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            buffer.initialize(repeating: 0)
            initialized = n
            try readFrame(index, into: buffer)
        }
        return Image(width: layout.width, height: layout.height, pixels: pixels)
    }

    /// Reads frame `index` as a `Mask` (see `readMaskFrame`).
    public func maskFrame(_ index: Int) throws -> Mask {
        try checkFrameIndex(index)
        let n = layout.pixelsPerFrame
        var valid = [Bool](repeating: false, count: n)
        try valid.withUnsafeMutableBufferPointer { try readMaskFrame(index, into: $0) }
        return Mask(width: layout.width, height: layout.height, isValid: valid)
    }

    func checkFrameIndex(_ index: Int) throws {
        guard index >= 0, index < layout.frameCount else {
            throw PeaksError.file(path: path, reason: "frame \(index) does not exist (the file has \(layout.frameCount) frame\(layout.frameCount == 1 ? "" : "s"))")
        }
    }
}

/// A view of some frames of a source, optionally regrouped as a scan (`--frames START:STOP:STEP`,
/// `--scan WxH`). Frame i of the view is frame `frames[i]` of the source.
public final class SelectedFrames: FrameSource {
    public let source: any FrameSource
    public let frames: [Int]
    public let layout: FrameLayout

    /// - Parameters:
    ///   - source: The file's frames.
    ///   - selection: Which frames (nil = all).
    ///   - scan: A scan grid for the selected frames (nil = keep the source's when all frames
    ///     are selected, else none); its size must equal the number of selected frames.
    public init(_ source: any FrameSource, selection: FrameRange? = nil, scan: ScanShape? = nil) throws {
        self.source = source
        let all = source.layout
        if let selection {
            frames = try selection.indices(frameCount: all.frameCount, path: source.path)
        } else {
            frames = Array(0..<all.frameCount)
        }
        let grid: ScanShape?
        if let scan {
            guard scan.count == frames.count else {
                throw PeaksError.invalidParameter(
                    name: "scan",
                    reason: "\(scan) is \(scan.count) positions but \(frames.count) frame\(frames.count == 1 ? " is" : "s are") selected")
            }
            grid = scan
        } else {
            grid = selection == nil ? all.scan : nil
        }
        layout = FrameLayout(width: all.width, height: all.height, frameCount: frames.count, scan: grid, sampleType: all.sampleType)
    }

    public var path: String { source.path }
    public var formatName: String { source.formatName }
    public var metadata: [(String, Value)] { source.metadata }
    public var nanMeansInvalid: Bool { source.nanMeansInvalid }

    public func readFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try checkFrameIndex(index)
        try source.readFrame(frames[index], into: buffer)
    }

    public func readMaskFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Bool>) throws {
        try checkFrameIndex(index)
        try source.readMaskFrame(frames[index], into: buffer)
    }

    /// The source's own index of view frame `index` (what the `frame` column reports).
    public func sourceIndex(of index: Int) -> Int { frames[index] }
}

/// `--frames START:STOP[:STEP]`, Python slice rules without negative steps: START included, STOP
/// excluded, either may be omitted; negative START/STOP count from the end.
public struct FrameRange: Sendable, Equatable, CustomStringConvertible {
    public let start: Int?
    public let stop: Int?
    public let step: Int

    public init(start: Int?, stop: Int?, step: Int = 1) {
        self.start = start
        self.stop = stop
        self.step = step
    }

    /// Parses `START:STOP[:STEP]` or a single index `N`.
    public init(parsing text: String) throws {
        func fail(_ why: String) -> PeaksError { PeaksError.invalidParameter(name: "frames", reason: why) }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
        func number(_ s: String) throws -> Int? {
            if s.isEmpty { return nil }
            guard let v = Int(s) else { throw fail("'\(s)' in '\(text)' is not a whole number (expected START:STOP[:STEP])") }
            return v
        }
        switch parts.count {
        case 1:
            guard let i = try number(parts[0]) else { throw fail("empty frame selection") }
            self.init(start: i, stop: i == -1 ? nil : i + 1, step: 1)
        case 2, 3:
            let step = parts.count == 3 ? (try number(parts[2]) ?? 1) : 1
            guard step >= 1 else { throw fail("the step must be a positive whole number, got \(step)") }
            self.init(start: try number(parts[0]), stop: try number(parts[1]), step: step)
        default:
            throw fail("expected START:STOP[:STEP], got '\(text)'")
        }
    }

    public var description: String {
        "\(start.map(String.init) ?? ""):\(stop.map(String.init) ?? ""):\(step)"
    }

    /// The selected indices of a file with `frameCount` frames; an empty selection is an error.
    public func indices(frameCount n: Int, path: String) throws -> [Int] {
        func resolve(_ v: Int?, _ fallback: Int) -> Int {
            guard let v else { return fallback }
            return v < 0 ? max(0, n + v) : min(v, n)
        }
        let lo = resolve(start, 0), hi = resolve(stop, n)
        let picked = lo < hi ? Array(stride(from: lo, to: hi, by: step)) : []
        guard !picked.isEmpty else {
            throw PeaksError.invalidParameter(name: "frames", reason: "'\(self)' selects no frame of '\(path)' (it has \(n))")
        }
        return picked
    }
}

/// An open regular file, read with `pread` (thread-safe, no shared offset). Opening refuses
/// folders, FIFOs, devices and empty files with one line each: a reader never blocks on a pipe
/// or reads `/dev/zero` without end.
public final class InputFile: @unchecked Sendable {
    // Safe to share: `fd`, `memory` and `size` are set once in init and never change; `pread`
    // has no shared file offset; the descriptor is closed only in deinit, when no reader remains.
    public let path: String
    public let size: Int
    let fd: Int32
    /// The bytes of an in-memory file (tests, fuzzing, data handed over by the C ABI).
    let memory: [UInt8]?

    /// A file held in memory, read through the same checks as a file on disk. Readers that need
    /// a real path (libraries that open files themselves) refuse it.
    ///
    /// - Parameters:
    ///   - bytes: The file's contents.
    ///   - name: What error messages call it.
    public init(bytes: [UInt8], name: String) throws {
        guard !bytes.isEmpty else { throw PeaksError.file(path: name, reason: "empty file (0 bytes)") }
        path = name
        size = bytes.count
        fd = -1
        memory = bytes
    }

    /// True when the file is on disk (so a library can open `path` itself).
    public var isOnDisk: Bool { memory == nil }

    /// Opens `path` for reading.
    ///
    /// - Throws: `PeaksError.file` for a missing, unreadable, non-regular or empty file.
    public init(_ path: String) throws {
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: path, reason: reason) }
        if path.isEmpty { throw fail("no such file (empty path)") }
        var info = stat()
        if stat(path, &info) != 0 { throw fail(Self.reason(errno)) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw fail("is a folder, not a file")
        case S_IFIFO: throw fail("is a pipe (FIFO), not a regular file; save the data to a file first")
        case S_IFCHR, S_IFBLK: throw fail("is a device, not a regular file")
        case S_IFSOCK: throw fail("is a socket, not a regular file")
        default: throw fail("is not a regular file")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw fail(Self.reason(errno)) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw fail("is not a regular file")
        }
        if st.st_size == 0 {
            close(fd)
            throw fail("empty file (0 bytes)")
        }
        self.path = path
        self.size = Int(st.st_size)
        self.fd = fd
        self.memory = nil
    }

    deinit { if fd >= 0 { close(fd) } }

    static func reason(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file"
        case ENOTDIR: return "no such file (a part of the path is not a folder)"
        case EACCES, EPERM: return "cannot read: permission denied"
        case EISDIR: return "is a folder, not a file"
        default: return "cannot read: \(String(cString: strerror(code)))"
        }
    }

    /// Reads `count` bytes at `offset` into `buffer`; a short file is an error naming what was
    /// being read.
    ///
    /// - Parameters:
    ///   - buffer: Destination of at least `count` bytes.
    ///   - count: Bytes to read.
    ///   - offset: Byte offset in the file.
    ///   - what: What these bytes are, for the error message ("frame 3", "header").
    public func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int, what: String) throws {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw PeaksError.file(path: path, reason: "truncated: \(what) needs bytes \(offset)..<\(offset &+ count) but the file has \(size)")
        }
        if let memory {
            memory.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
            return
        }
        var done = 0
        while done < count {
            let n = pread(fd, buffer + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw PeaksError.file(path: path, reason: "cannot read \(what): \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                throw PeaksError.file(path: path, reason: "truncated: \(what) ends at byte \(offset + done) of \(offset + count) (the file shrank while being read?)")
            }
            done += n
        }
    }

    /// Reads `count` bytes at `offset` into a new array.
    public func bytes(at offset: Int, count: Int, what: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: count, at: offset, what: what) }
        return out
    }

    /// The first `count` bytes (fewer when the file is shorter): what format recognition looks at.
    public func head(_ count: Int) throws -> [UInt8] {
        try bytes(at: 0, count: min(count, size), what: "the header")
    }

    /// The whole file (for formats read in one piece, e.g. PNG), refused when larger than `limit`.
    public func all(limit: Int) throws -> [UInt8] {
        guard size <= limit else {
            throw PeaksError.file(path: path, reason: "the file is \(size) bytes, more than the read limit of \(limit) bytes (raise it with PEAKS_MAX_FRAME_BYTES)")
        }
        return try bytes(at: 0, count: size, what: "the file")
    }
}

/// Limits on what one read may allocate, so that a forged header (a decompression bomb, a shape
/// of 100000 × 100000) fails with one line before any allocation instead of exhausting memory.
public enum ReadLimits {
    /// Largest frame, in bytes of `Float` pixels (4 per pixel): 1 GiB by default (a 16384 ×
    /// 16384 image; the detectors need a few times a frame's size on top), or the value of the
    /// environment variable `PEAKS_MAX_FRAME_BYTES`.
    public static var maxFrameBytes: Int {
        if let text = getenv("PEAKS_MAX_FRAME_BYTES").map({ String(cString: $0) }), let v = Int(text), v > 0 { return v }
        return 1 << 30
    }

    /// Throws unless a frame of `width × height` (× `channels` decoded samples of `bytesPerSample`)
    /// fits the limit.
    ///
    /// - Parameters:
    ///   - width: Columns declared by the header.
    ///   - height: Rows declared by the header.
    ///   - path: The file, for the message.
    public static func checkFrame(width: Int, height: Int, path: String) throws {
        let (n, o1) = width.multipliedReportingOverflow(by: height)
        let (bytes, o2) = n.multipliedReportingOverflow(by: MemoryLayout<Float>.size)
        guard width >= 0, height >= 0, !o1, !o2, bytes <= maxFrameBytes else {
            throw PeaksError.file(
                path: path,
                reason: "a frame of \(width)x\(height) pixels needs more than the read limit of \(maxFrameBytes) bytes (set PEAKS_MAX_FRAME_BYTES to raise it)")
        }
    }

    /// `a × b × ...` or nil on overflow.
    public static func product(_ values: [Int]) -> Int? {
        var p = 1
        for v in values {
            guard v >= 0 else { return nil }
            let (r, o) = p.multipliedReportingOverflow(by: v)
            if o { return nil }
            p = r
        }
        return p
    }
}
