#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ImageIO
import PeakKit

/// `--shard I/N`: the I-th of N contiguous blocks of a stack's frames (I is 0-based, so a Slurm
/// job array passes `$SLURM_ARRAY_TASK_ID` straight in). The blocks are as equal as possible and
/// in frame order: with F frames, the first `F mod N` blocks have `F / N + 1` frames, the others
/// `F / N` (so with F < N the last blocks are empty).
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    /// 0-based: 0 ..< count.
    public let index: Int
    public let count: Int

    /// - Throws: `PeaksError.invalidParameter` unless `count >= 1` and `0 <= index < count`.
    public init(index: Int, count: Int) throws {
        guard count >= 1 else {
            throw PeaksError.invalidParameter(name: "shard", reason: "the number of shards must be at least 1, got \(count)")
        }
        guard index >= 0, index < count else {
            throw PeaksError.invalidParameter(
                name: "shard", reason: "shard index \(index) is outside 0...\(count - 1) (indices are 0-based: I/N with 0 <= I < N)")
        }
        self.index = index
        self.count = count
    }

    /// Parses `I/N`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw PeaksError.invalidParameter(name: "shard", reason: "expected I/N with two whole numbers (e.g. 0/4), got '\(text)'")
        }
        try self.init(index: i, count: n)
    }

    /// `I/N`.
    public var description: String { "\(index)/\(count)" }

    /// The frames (indices 0 ..< total of the stack as selected) this shard processes.
    public func frames(of total: Int) -> Range<Int> {
        Self.block(index, of: count, frames: total)
    }

    /// Block `i` of `n` over `total` frames.
    public static func block(_ i: Int, of n: Int, frames total: Int) -> Range<Int> {
        let base = total / n, extra = total % n
        let start = i * base + min(i, extra)
        return start..<(start + base + (i < extra ? 1 : 0))
    }
}

/// What identifies an input for a shard manifest, cheaply: path, size, modification time and the
/// SHA-256 of the first 64 KiB (the header of every format peaks reads). Shards of one run must
/// agree on it, so `peaks merge` refuses shards made from different or changed files.
public enum InputIdentity {
    /// Bytes hashed at the start of a file.
    public static let headBytes = 65536

    /// `[path, size, mtime, head_sha256]` of one file.
    public static func of(file path: String) throws -> [(String, Value)] {
        let file = try InputFile(path)
        var h = SHA256()
        h.update(try file.head(headBytes))
        return [("path", .string(path)), ("size", .integer(file.size)), ("mtime", .string(try mtime(path))), ("head_sha256", .string(h.finalizeHex()))]
    }

    /// A multi-file stack: the number of files, the first and last, the SHA-256 of the list of
    /// every file's path, size and modification time (one `stat` per file, no read), and the
    /// first file's head checksum.
    public static func of(files: [String], label: String) throws -> [(String, Value)] {
        var list = SHA256()
        for f in files {
            var st = stat()
            guard stat(f, &st) == 0 else { throw PeaksError.file(path: f, reason: "no such file") }
            list.update(Array("\(f)\t\(st.st_size)\t\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)\n".utf8))
        }
        let first = try of(file: files[0])
        return [
            ("path", .string(label)), ("files", .integer(files.count)), ("first", .string(files[0])),
            ("last", .string(files[files.count - 1])), ("list_sha256", .string(list.finalizeHex())),
            ("first_head_sha256", first.last!.1),
        ]
    }

    static func mtime(_ path: String) throws -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { throw PeaksError.file(path: path, reason: "no such file") }
        return "\(st.st_mtim.tv_sec).\(String(cFormat: "%09ld", Int(st.st_mtim.tv_nsec)))"
    }
}

/// The manifest written beside a shard's table (`TABLE.manifest.json`, schema `peaks.shard/1`):
/// which run it belongs to (input identity, settings, peaks version, shard count), which frames
/// it holds, and how its table is built (bytes, SHA-256, header and footer lengths, rows), so
/// that `peaks merge` can check the shards and join their tables into the single run's bytes.
public struct ShardManifest: Sendable {
    public static let schema = "peaks.shard/1"
    public static let suffix = ".manifest.json"

    public var peaksVersion: String
    public var shard: Shard
    /// The shard's frames (indices of the stack as selected) and the stack's frame count.
    public var frames: Range<Int>
    public var totalFrames: Int
    public var format: PeakListFormat
    /// The table's file name (no folder: shards may be moved together).
    public var tableName: String
    public var tableBytes: Int
    public var tableSHA256: String
    public var headerBytes: Int
    public var footerBytes: Int
    public var rows: Int
    /// Identity of the input (and any mask): `InputIdentity`.
    public var input: [(String, Value)]
    /// Everything else that decides the table's bytes: algorithm, parameters, options.
    public var settings: [(String, Value)]

    public init(
        peaksVersion: String, shard: Shard, frames: Range<Int>, totalFrames: Int, format: PeakListFormat, tableName: String,
        tableBytes: Int, tableSHA256: String, headerBytes: Int, footerBytes: Int, rows: Int,
        input: [(String, Value)], settings: [(String, Value)]
    ) {
        self.peaksVersion = peaksVersion
        self.shard = shard
        self.frames = frames
        self.totalFrames = totalFrames
        self.format = format
        self.tableName = tableName
        self.tableBytes = tableBytes
        self.tableSHA256 = tableSHA256
        self.headerBytes = headerBytes
        self.footerBytes = footerBytes
        self.rows = rows
        self.input = input
        self.settings = settings
    }

    /// The manifest's path for a table.
    public static func path(forTable table: String) -> String { table + suffix }

    /// The manifest as deterministic JSON.
    public var text: String {
        let shardEntries: [(String, Value)] = [
            ("index", .integer(shard.index)), ("count", .integer(shard.count)), ("first_frame", .integer(frames.lowerBound)),
            ("end_frame", .integer(frames.upperBound)), ("frames", .integer(frames.count)), ("total_frames", .integer(totalFrames)),
        ]
        let table: [(String, Value)] = [
            ("file", .string(tableName)), ("format", .string(format.rawValue)), ("bytes", .integer(tableBytes)),
            ("sha256", .string(tableSHA256)), ("header_bytes", .integer(headerBytes)), ("footer_bytes", .integer(footerBytes)),
            ("rows", .integer(rows)),
        ]
        var s = "{\n"
        s += "  \"schema\": \(JSONText.quote(Self.schema)),\n"
        s += "  \"peaks_version\": \(JSONText.quote(peaksVersion)),\n"
        s += "  \"shard\": \(JSONText.object(shardEntries)),\n"
        s += "  \"table\": \(JSONText.object(table)),\n"
        s += "  \"input\": \(JSONText.object(input)),\n"
        s += "  \"settings\": \(JSONText.object(settings))\n"
        return s + "}\n"
    }
}

/// A shard manifest as read back by `peaks merge`: the numbers it needs, plus canonical texts of
/// the parts that must agree between the shards of one run.
public struct ReadManifest {
    public let table: String
    public let manifestPath: String
    public let version: String
    public let shard: Shard
    public let frames: Range<Int>
    public let totalFrames: Int
    public let format: PeakListFormat
    public let tableBytes: Int
    public let sha256: String
    public let headerBytes: Int
    public let footerBytes: Int
    /// Canonical JSON of the parts that identify the run (key order sorted).
    public let runParts: [(name: String, text: String)]

    /// Reads and checks `TABLE.manifest.json`.
    public init(table: String) throws {
        self.table = table
        manifestPath = ShardManifest.path(forTable: table)
        let path = manifestPath
        func fail(_ why: String) -> PeaksError { PeaksError.file(path: table, reason: why) }
        guard FileManager.default.fileExists(atPath: path) else {
            throw fail("no manifest '\(path)' beside it (the shard did not finish, or this is not a shard table)")
        }
        let bytes: [UInt8]
        do { bytes = try InputFile(path).all(limit: 64 << 20) } catch let e as PeaksError {
            throw fail("cannot read its manifest: \(e.description)")
        }
        guard let root = try? JSONValue.parse(bytes), root.object != nil else {
            throw fail("its manifest '\(path)' is not valid JSON (corrupt?)")
        }
        func bad(_ what: String) -> PeaksError { fail("its manifest '\(path)' is corrupt or not a peaks shard manifest: \(what)") }
        guard root["schema"]?.string == ShardManifest.schema else { throw bad("schema is not \(ShardManifest.schema)") }
        guard let s = root["shard"], s.object != nil, let t = root["table"], t.object != nil,
              let input = root["input"], input.object != nil, let settings = root["settings"], settings.object != nil,
              let version = root["peaks_version"]?.string
        else { throw bad("missing shard, table, input, settings or peaks_version") }
        func int(_ o: JSONValue, _ k: String) throws -> Int {
            guard let v = o[k]?.wholeNumber, v >= 0 else { throw bad("'\(k)' is not a whole number >= 0") }
            return v
        }
        let index = try int(s, "index"), count = try int(s, "count")
        guard let shard = try? Shard(index: index, count: count) else { throw bad("shard \(index)/\(count) is not valid") }
        let first = try int(s, "first_frame"), end = try int(s, "end_frame"), total = try int(s, "total_frames")
        guard first <= end, end <= total else { throw bad("frames \(first)..<\(end) of \(total)") }
        guard let formatName = t["format"]?.string, let format = PeakListFormat(rawValue: formatName) else { throw bad("table format") }
        guard let sha = t["sha256"]?.string, sha.count == 64 else { throw bad("table sha256") }
        self.version = version
        self.shard = shard
        self.frames = first..<end
        self.totalFrames = total
        self.format = format
        tableBytes = try int(t, "bytes")
        sha256 = sha
        headerBytes = try int(t, "header_bytes")
        footerBytes = try int(t, "footer_bytes")
        guard headerBytes + footerBytes <= tableBytes else { throw bad("header and footer longer than the table") }
        runParts = [
            ("peaks version", version), ("input", input.canonical), ("settings", settings.canonical),
            ("table format", formatName), ("number of shards", String(count)), ("number of frames", String(total)),
        ]
    }

    /// One line on what differs from `other`'s run, or nil when both belong to the same run.
    public func difference(from other: ReadManifest) -> String? {
        for (a, b) in zip(runParts, other.runParts) where a.text != b.text {
            if a.name == "input" || a.name == "settings" {
                return "\(a.name == "input" ? "the input differs" : "the settings differ") (\(Self.firstDifference(a.text, b.text)))"
            }
            return "its \(a.name) is \(a.text), not \(b.text)"
        }
        return nil
    }

    /// The first differing key of two canonical JSON objects, for messages.
    static func firstDifference(_ a: String, _ b: String) -> String {
        guard let x = (try? JSONValue.parse(Array(a.utf8)))?.object, let y = (try? JSONValue.parse(Array(b.utf8)))?.object
        else { return "\(a) vs \(b)" }
        for key in Set(x.keys).union(y.keys).sorted() {
            let u = x[key].map(\.displayText) ?? "absent", v = y[key].map(\.displayText) ?? "absent"
            if u != v { return "\(key): \(u) vs \(v)" }
        }
        return "\(a) vs \(b)"
    }
}

/// `peaks merge`: checks that shard tables come from one run and cover every frame exactly once,
/// verifies their checksums, and writes the single run's table, streaming (one shard chunk in
/// memory at a time; time linear in the output).
public enum ShardMerge {
    /// Maps the command line's shard paths to table paths: a manifest path stands for its table
    /// (so `out/shard-*` may match both); a path given twice is an error.
    public static func tables(from arguments: [String]) throws -> [String] {
        var seen: [String: Set<Bool>] = [:]
        var order: [String] = []
        for a in arguments {
            let isManifest = a.hasSuffix(ShardManifest.suffix)
            let table = isManifest ? String(a.dropLast(ShardManifest.suffix.count)) : a
            if seen[table] == nil { order.append(table) }
            guard seen[table, default: []].insert(isManifest).inserted else {
                throw PeaksError.file(path: a, reason: "given twice (a duplicated shard)")
            }
        }
        return order
    }

    /// Checks the shards and returns them in shard order, or throws one line naming the first
    /// missing, duplicated, foreign or inconsistent shard.
    public static func plan(_ tables: [String]) throws -> [ReadManifest] {
        guard !tables.isEmpty else { throw PeaksError.invalidParameter(name: "shards", reason: "no shard given") }
        let manifests = try tables.map { try ReadManifest(table: $0) }
        // The run most shards agree on (ties: the first given) is the reference.
        let keys = manifests.map { $0.runParts.map(\.text).joined(separator: "\u{1}") }
        var votes: [String: Int] = [:]
        for k in keys { votes[k, default: 0] += 1 }
        let best = votes.values.max()!
        let refKey = manifests[keys.firstIndex { votes[$0] == best }!]
        for m in manifests {
            if let why = m.difference(from: refKey) {
                throw PeaksError.file(path: m.table, reason: "a foreign shard: not from the same run as '\(refKey.table)': \(why)")
            }
        }
        let n = refKey.shard.count
        var byIndex = [ReadManifest?](repeating: nil, count: n)
        for m in manifests {
            if let other = byIndex[m.shard.index] {
                throw PeaksError.file(path: m.table, reason: "duplicates shard \(m.shard) of '\(other.table)'")
            }
            let expected = m.shard.frames(of: m.totalFrames)
            guard m.frames == expected else {
                throw PeaksError.file(
                    path: m.table,
                    reason: "shard \(m.shard) should hold frames \(expected.lowerBound)..<\(expected.upperBound) but its manifest says \(m.frames.lowerBound)..<\(m.frames.upperBound) (corrupt?)")
            }
            byIndex[m.shard.index] = m
        }
        for i in 0..<n where byIndex[i] == nil {
            let r = Shard.block(i, of: n, frames: refKey.totalFrames)
            throw PeaksError.file(
                path: "shard \(i)/\(n)",
                reason: "missing (frames \(r.lowerBound)..<\(r.upperBound) of \(refKey.totalFrames)); run it again with --shard \(i)/\(n)")
        }
        let ordered = byIndex.map { $0! }
        for m in ordered {
            var st = stat()
            guard stat(m.table, &st) == 0 else {
                throw PeaksError.file(path: m.table, reason: "no such file (its manifest exists: the table was removed?)")
            }
            guard Int(st.st_size) == m.tableBytes else {
                throw PeaksError.file(path: m.table, reason: "corrupt: the table is \(st.st_size) bytes but its manifest says \(m.tableBytes)")
            }
        }
        return ordered
    }

    /// Writes the merged table of `shards` (from `plan`) to `sink`, verifying each shard's
    /// SHA-256 as it goes; throws (after some output) when a checksum or a header does not match,
    /// so the caller must write to a temporary and discard it on error.
    public static func write(_ shards: [ReadManifest], chunk: Int = 1 << 20, to sink: ([UInt8]) throws -> Void) throws {
        let nonEmpty = shards.filter { !$0.frames.isEmpty }
        guard let firstFull = nonEmpty.first, let lastFull = nonEmpty.last else { return }
        let separator = Array(StackTableWriter.separator(firstFull.format).utf8)
        var header: [UInt8]?
        var buffer = [UInt8](repeating: 0, count: chunk)
        for m in shards {
            let file = try InputFile(m.table)
            guard file.size == m.tableBytes else {
                throw PeaksError.file(path: m.table, reason: "corrupt: the table is \(file.size) bytes but its manifest says \(m.tableBytes)")
            }
            var hash = SHA256()
            // The three parts: header [0, h), body [h, size - f), footer [size - f, size).
            let parts = [0..<m.headerBytes, m.headerBytes..<(m.tableBytes - m.footerBytes), (m.tableBytes - m.footerBytes)..<m.tableBytes]
            for (p, range) in parts.enumerated() {
                if p == 0 && !m.frames.isEmpty {
                    let bytes = try file.bytes(at: range.lowerBound, count: range.count, what: "the header")
                    hash.update(bytes)
                    if let header {
                        guard header == bytes else {
                            throw PeaksError.file(path: m.table, reason: "its header differs from '\(firstFull.table)' (corrupt?)")
                        }
                    } else {
                        header = bytes
                        try sink(bytes)
                    }
                    continue
                }
                let write = !m.frames.isEmpty && (p == 1 || (p == 2 && m.table == lastFull.table && m.shard == lastFull.shard))
                if p == 1 && write && m.shard != firstFull.shard { try sink(separator) }
                var offset = range.lowerBound
                while offset < range.upperBound {
                    let n = min(chunk, range.upperBound - offset)
                    try buffer.withUnsafeMutableBytes { try file.read(into: $0.baseAddress!, count: n, at: offset, what: "the table") }
                    buffer.withUnsafeBytes { hash.update(raw: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    if write { try sink(n == chunk ? buffer : Array(buffer[0..<n])) }
                    offset += n
                }
            }
            guard hash.finalizeHex() == m.sha256 else {
                throw PeaksError.file(path: m.table, reason: "corrupt: its SHA-256 does not match its manifest (the table was changed or damaged)")
            }
        }
    }
}
