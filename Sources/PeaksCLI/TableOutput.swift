#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit
import Pipeline

/// Where a stack command's table goes: standard output, a file (`-o`, atomic), or, with
/// `--shard`, a file and its manifest committed together (the manifest renamed last). Every
/// stack command (detect; center and register once they take stacks) writes through this, so
/// all their shards merge the same way.
final class TableOutput {
    let shard: Shard?
    private let stream: AtomicStream?
    private let manifestStream: AtomicStream?
    private var hash = SHA256()
    private var bytes = 0

    /// - Parameters:
    ///   - output: `-o` (nil = standard output; required with a shard).
    ///   - shard: `--shard`, if given.
    init(output: String?, shard: Shard?) throws {
        self.shard = shard
        stream = try output.map { try AtomicStream($0) }
        if shard != nil {
            guard let output else { throw UsageError("--shard writes a table and its manifest beside it: give -o FILE") }
            manifestStream = try AtomicStream(ShardManifest.path(forTable: output))
        } else {
            manifestStream = nil
        }
        TemporaryFiles.installHandlers()
    }

    /// Appends text to the table.
    func write(_ text: String) throws {
        guard let stream else { return try StandardOutput.write(text) }
        let utf8 = Array(text.utf8)
        if shard != nil {
            hash.update(utf8)
            bytes += utf8.count
        }
        try stream.write(utf8)
    }

    /// Renames the table (and the manifest `makeManifest` builds from the table's file name, size
    /// and SHA-256) into place.
    func commit(manifest makeManifest: (_ tableName: String, _ bytes: Int, _ sha256: String) throws -> ShardManifest) throws {
        guard let stream else { return }
        if let manifestStream {
            let name = URL(fileURLWithPath: stream.path).lastPathComponent
            try manifestStream.write(try makeManifest(name, bytes, hash.finalizeHex()).text)
            try AtomicStream.commitAll([stream, manifestStream])
        } else {
            try stream.commit()
        }
    }

    /// Removes the temporaries; nothing is left behind.
    func abort() {
        stream?.abort()
        manifestStream?.abort()
    }
}
