#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// Writes files so that a reader never sees a partial one: each file is written to a temporary
/// name in its own folder and renamed into place once complete. `writeAll` writes every temporary
/// first and renames only when all writes succeeded; the renames run with SIGINT/SIGTERM held
/// back, and a rename that fails puts back the files already replaced. So a run leaves all its
/// outputs or none, and an interrupt removes the temporaries (`TemporaryFiles`).
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try writeAll([(path, bytes)])
    }

    /// Writes every file or none.
    ///
    /// - Parameter files: Destinations and their complete contents.
    /// - Throws: `PeaksError.file` naming the destination that could not be written.
    public static func writeAll(_ files: [(path: String, bytes: [UInt8])]) throws {
        for (path, _) in files { try checkDestination(path) }
        var streams: [AtomicStream] = []
        do {
            for (path, bytes) in files {
                let stream = try AtomicStream(path)
                streams.append(stream)
                try stream.write(bytes)
            }
            try AtomicStream.commitAll(streams)
        } catch {
            for s in streams { s.abort() }
            throw error
        }
    }

    /// Checks that `path` can be replaced by a regular file: not a folder name, not an existing
    /// device, pipe or folder, in a folder that exists.
    public static func checkDestination(_ path: String) throws {
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: path, reason: "cannot write: \(reason)") }
        if path.isEmpty { throw fail("empty file name") }
        if path.hasSuffix("/") { throw fail("the name ends with '/' (a folder, not a file)") }
        var st = stat()
        if stat(path, &st) == 0 {
            // Renaming over a device or a pipe (`-o /dev/null`, `-o /dev/stdout`) would replace
            // it with a regular file (as root, /dev/null itself): refuse anything that exists and
            // is not a regular file.
            if (st.st_mode & S_IFMT) == S_IFDIR { throw fail("it is a folder") }
            if (st.st_mode & S_IFMT) != S_IFREG {
                throw fail("it exists and is not a regular file (leave out the output option to write to standard output)")
            }
        }
        let dir = folder(of: path)
        var d = stat()
        guard stat(dir, &d) == 0, (d.st_mode & S_IFMT) == S_IFDIR else { throw fail("folder '\(dir)' does not exist") }
        guard access(dir, W_OK) == 0 else { throw fail("folder '\(dir)' is not writable") }
    }

    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}

/// A file written piece by piece (a stack's table as frames finish) under a temporary name in
/// its destination's folder, renamed into place by `commit`. Until then the destination is
/// untouched; `abort` (or an interrupt, through `TemporaryFiles`) removes the temporary.
public final class AtomicStream {
    public let path: String
    let temporary: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var done = false

    /// Creates the temporary file.
    ///
    /// - Parameter path: The destination.
    /// - Throws: `PeaksError.file` when the destination cannot be written.
    public init(_ path: String) throws {
        try AtomicFile.checkDestination(path)
        self.path = path
        // A short temporary name: `.NAME.tmp-PID` would exceed NAME_MAX (255) for long names.
        let dir = AtomicFile.folder(of: path)
        let serial = TemporaryFiles.nextSerial()
        let name = (path.contains("/") ? dir + "/" : "") + ".peaks-\(getpid())-\(serial).tmp"
        temporary = name
        // Registered before it exists: a signal between the two would otherwise leave the file
        // behind (the handler's unlink of a name not yet created does nothing).
        TemporaryFiles.add(name)
        fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            let reason = String(cString: strerror(errno))
            TemporaryFiles.remove(name)
            throw PeaksError.file(path: path, reason: "cannot write: \(reason)")
        }
    }

    deinit { abort() }

    /// Appends bytes (buffered).
    public func write(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Appends UTF-8 text.
    public func write(_ text: String) throws { try write(Array(text.utf8)) }

    func flush() throws {
        var offset = 0
        try buffer.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw PeaksError.file(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes the temporary (not yet renamed).
    func close() throws {
        guard fd >= 0 else { return }
        try flush()
        let rc = fsyncClose()
        if rc != 0 { throw PeaksError.file(path: path, reason: "cannot write: \(String(cString: strerror(errno)))") }
    }

    private func fsyncClose() -> Int32 {
        let r = Glibc.close(fd)
        fd = -1
        return r
    }

    /// Renames the temporary into place.
    public func commit() throws { try Self.commitAll([self]) }

    /// Removes the temporary; the destination is left as it was.
    public func abort() {
        if fd >= 0 { _ = fsyncClose() }
        if !done {
            unlink(temporary)
            TemporaryFiles.remove(temporary)
            done = true
        }
    }

    /// Renames every stream's temporary into place, or none: signals are held back meanwhile,
    /// and if one rename fails the files already replaced get their old contents back.
    public static func commitAll(_ streams: [AtomicStream]) throws {
        for s in streams { try s.close() }
        var blocked = sigset_t(), previous = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGINT)
        sigaddset(&blocked, SIGTERM)
        sigaddset(&blocked, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        // Keep the old contents (hard links) until every rename has succeeded.
        var backups: [(backup: String, final: String)] = []
        var renamed: [AtomicStream] = []
        func rollBack() {
            for s in renamed { unlink(s.path) }
            for b in backups { rename(b.backup, b.final) }
        }
        for s in streams {
            var st = stat()
            if stat(s.path, &st) == 0 {
                let backup = s.temporary + ".old"
                if link(s.path, backup) == 0 {
                    backups.append((backup, s.path))
                    TemporaryFiles.add(backup)
                }
            }
        }
        for s in streams {
            if rename(s.temporary, s.path) != 0 {
                let message = String(cString: strerror(errno))
                rollBack()
                for t in streams { t.abort() }
                for b in backups { TemporaryFiles.remove(b.backup) }
                throw PeaksError.file(path: s.path, reason: "cannot write: \(message)")
            }
            renamed.append(s)
        }
        for s in streams {
            TemporaryFiles.remove(s.temporary)
            s.done = true
        }
        for b in backups {
            unlink(b.backup)
            TemporaryFiles.remove(b.backup)
        }
    }
}

/// The temporary files of this process, removed if it is interrupted (SIGINT, SIGTERM, SIGHUP)
/// so that an interrupted run leaves no `.peaks-*.tmp` behind. The handler only calls `unlink`
/// and `_exit` (async-signal-safe) on C strings prepared outside it.
public enum TemporaryFiles {
    private static let state = Mutex<(serial: Int, paths: [String])>((0, []))

    static func nextSerial() -> Int {
        state.withLock { s in
            s.serial += 1
            return s.serial
        }
    }

    static func add(_ path: String) {
        installHandlers()
        state.withLock { s in
            s.paths.append(path)
            publish(s.paths)
        }
    }

    static func remove(_ path: String) {
        state.withLock { s in
            s.paths.removeAll { $0 == path }
            publish(s.paths)
        }
    }

    /// Installs the signal handlers (once; also called by commands that stream to standard output).
    public static func installHandlers() {
        _ = handlersInstalled
    }

    private static let handlersInstalled: Bool = {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, temporaryFilesSignalHandler)
        }
        // A process started from a thread that blocks these signals (a Dispatch or Swift
        // concurrency thread, a Python thread, some batch systems) inherits the blocked mask:
        // a SIGTERM would then stay pending and the run finish as if nothing happened. Unblock
        // them on this (the command's) thread so an interrupt does interrupt.
        var mask = sigset_t()
        sigemptyset(&mask)
        for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&mask, sig) }
        pthread_sigmask(SIG_UNBLOCK, &mask, nil)
        return true
    }()

    /// Rebuilds the C array the handler reads. The old array is leaked on purpose: a handler
    /// running at this moment may still read it, and there are few temporaries per run.
    private static func publish(_ paths: [String]) {
        let list = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: paths.count + 1)
        for (i, p) in paths.enumerated() { list[i] = strdup(p) }
        list[paths.count] = nil
        signalList.store(list)
    }
}

/// The NULL-terminated list of temporaries the signal handler removes.
let signalList = AtomicPointerBox()

final class AtomicPointerBox: @unchecked Sendable {
    // Safe: the pointer is only replaced through the atomic below, and the arrays it points to
    // are never freed (see `TemporaryFiles.publish`).
    private let value = Atomic<UInt>(0)
    func store(_ p: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) {
        value.store(UInt(bitPattern: p), ordering: .releasing)
    }
    func load() -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        UnsafeMutablePointer(bitPattern: value.load(ordering: .acquiring))
    }
}

private func temporaryFilesSignalHandler(_ sig: Int32) {
    if let list = signalList.load() {
        var i = 0
        while let p = list[i] {
            unlink(p)
            i += 1
        }
    }
    _exit(128 + sig)
}

/// Standard output written with `write(2)` and checked: a full disk or a closed pipe is a
/// one-line error (exit 1), not a crash.
public enum StandardOutput {
    /// Writes all of `text` to standard output.
    ///
    /// - Throws: `PeaksError.file(path: "standard output", ...)` when the write fails.
    public static func write(_ text: String) throws {
        try write(Array(text.utf8))
    }

    public static func write(_ bytes: [UInt8]) throws {
        var offset = 0
        try bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Glibc.write(1, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw PeaksError.file(path: "standard output", reason: "cannot write: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
    }
}

/// Standard error for messages: failures to write there are ignored (there is nowhere left to
/// report them), never a crash.
public enum StandardError {
    public static func write(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
