import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ImageIO
import PeakKit
import Pipeline

/// `peaks merge`: joins the tables of `peaks detect --shard I/N` into the table a single run
/// writes, byte for byte.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the shard tables of a stack (from --shard I/N) into one table.",
        discussion: """
            Each shard is a table written by 'peaks detect STACK --shard I/N -o TABLE' with its manifest \
            TABLE.manifest.json beside it. The shards may be given in any order (or as a quoted glob); \
            they must come from the same input and settings and cover every frame exactly once, and \
            every table must match its manifest's SHA-256. A missing, duplicated, foreign or corrupt \
            shard is an error (exit 1) naming it, and no output is written. The merged table is \
            byte-identical to the table of a single run without --shard.

            Examples:
              peaks merge shards/part-*.csv -o peaks.csv
              peaks merge 'shards/part-*.json' -o peaks.json
            """)

    @Argument(help: ArgumentHelp("The shard tables (their manifests are found beside them); quoted globs are expanded by peaks.", valueName: "shard"))
    var shards: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("The merged table (required; written atomically).", valueName: "file"))
    var output: String

    func validate() throws {
        guard !shards.isEmpty else { throw ValidationError("give the shard tables to merge") }
    }

    func run() throws {
        var arguments: [String] = []
        for a in shards {
            if FileList.isPattern(a), !FileManager.default.fileExists(atPath: a) {
                arguments += try FileList([a]).files
            } else {
                arguments.append(a)
            }
        }
        let tables = try ShardMerge.tables(from: arguments)
        let ordered = try ShardMerge.plan(tables)
        let format = ordered[0].format
        let lower = output.lowercased()
        if (lower.hasSuffix(".csv") && format != .csv) || (lower.hasSuffix(".json") && format != .json) {
            throw UsageError("-o '\(output)': the shards are \(format.rawValue) tables")
        }
        try CommandInput.checkOutputs(
            [output], inputs: tables + tables.map { ShardManifest.path(forTable: $0) })
        let stream = try AtomicStream(output)
        TemporaryFiles.installHandlers()
        do {
            try ShardMerge.write(ordered) { try stream.write($0) }
            try stream.commit()
        } catch {
            stream.abort()
            throw error
        }
    }
}
