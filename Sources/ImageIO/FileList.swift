#if canImport(Glibc)
import Glibc
#endif
import PeakKit

/// The files of a multi-file stack as given on the command line: paths and quoted glob patterns
/// (`'night1/*.fits'`, expanded by peaks itself, so that the shell's limits and collation do not
/// matter). The frames are the files in byte order of their paths, whatever order they were
/// given in; a file given twice is an error.
public struct FileList: Sendable, Equatable {
    public let files: [String]
    /// True when the input is a list (several arguments, or a pattern): a multi-file stack,
    /// even when it names one file.
    public let isList: Bool
    /// What output headers and messages call the input: the argument itself, the pattern, or
    /// `first ... last (N files)`.
    public let label: String

    /// True when `text` holds a glob metacharacter.
    public static func isPattern(_ text: String) -> Bool { text.contains { $0 == "*" || $0 == "?" || $0 == "[" } }

    /// Expands `arguments`: an existing path is itself, a pattern is its matches (none is an
    /// error), anything else is kept (and fails when opened, naming it).
    public init(_ arguments: [String]) throws {
        var out: [String] = []
        var patterns = 0
        for a in arguments {
            var st = stat()
            if stat(a, &st) != 0, Self.isPattern(a) {
                let matches = try Self.glob(a)
                guard !matches.isEmpty else { throw PeaksError.file(path: a, reason: "the pattern matches no file") }
                out += matches
                patterns += 1
            } else {
                out.append(a)
            }
        }
        out.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for i in out.indices.dropFirst() where out[i] == out[i - 1] {
            throw PeaksError.file(path: out[i], reason: "given twice (a list of files is a stack whose frames are distinct files)")
        }
        files = out
        isList = arguments.count > 1 || patterns > 0
        if arguments.count == 1 {
            label = arguments[0]
        } else if out.count <= 3 {
            label = out.joined(separator: " ")
        } else {
            label = "\(out[0]) ... \(out[out.count - 1]) (\(out.count) files)"
        }
    }

    static func glob(_ pattern: String) throws -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        let rc = Glibc.glob(pattern, 0, nil, &g)
        if rc == GLOB_NOMATCH { return [] }
        guard rc == 0 else { throw PeaksError.file(path: pattern, reason: "cannot expand the pattern (glob error \(rc))") }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { out.append(String(cString: p)) }
        }
        return out
    }
}

/// A stack whose frames are files (`peaks detect 'night1/*.png'`): frame i is the single image
/// of `files[i]`. Files are opened lazily, one per frame read (thousands of files never hold
/// thousands of descriptors), and each is checked when read: it must hold one frame of the
/// first file's shape, else the error names it. A multi-frame file in a list is refused (the
/// frame numbers of a list are file numbers; process such a file as a stack by itself).
public final class FileListFrames: FrameSource {
    public let files: [String]
    public let path: String
    public let formatName: String
    public let layout: FrameLayout
    public let nanMeansInvalid: Bool
    let options: OpenOptions

    /// Opens the first file to learn the frame shape.
    ///
    /// - Parameters:
    ///   - files: The files, in frame order (at least one).
    ///   - label: What headers and messages call the stack.
    ///   - options: Format options applied to every file.
    public init(files: [String], label: String, options: OpenOptions = .init()) throws {
        guard let first = files.first else { throw PeaksError.invalidParameter(name: "input", reason: "no file given") }
        self.files = files
        self.path = label
        self.options = options
        let source = try ImageFormat.open(first, options: options)
        try Self.checkSingle(source)
        let l = source.layout
        formatName = source.formatName
        nanMeansInvalid = source.nanMeansInvalid
        layout = FrameLayout(width: l.width, height: l.height, frameCount: files.count, sampleType: l.sampleType)
    }

    static func checkSingle(_ source: any FrameSource) throws {
        let l = source.layout
        guard l.frameCount == 1, l.scan == nil else {
            throw PeaksError.file(
                path: source.path,
                reason: "holds \(l.frameCount) frames; a list of files takes single images (process a multi-frame file as a stack by itself)")
        }
    }

    /// Opens file `index` and checks it against the first file's shape.
    func open(_ index: Int) throws -> any FrameSource {
        try checkFrameIndex(index)
        let source = try ImageFormat.open(files[index], options: options)
        try Self.checkSingle(source)
        let l = source.layout
        guard l.width == layout.width, l.height == layout.height else {
            throw PeaksError.file(
                path: files[index],
                reason: "is \(l.width)x\(l.height) but the stack's frames are \(layout.width)x\(layout.height) (width x height, from '\(files[0])')")
        }
        return source
    }

    public func readFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try open(index).readFrame(0, into: buffer)
    }

    public func readMaskFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Bool>) throws {
        try open(index).readMaskFrame(0, into: buffer)
    }
}
