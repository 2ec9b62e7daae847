#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ImageIO
import PeakKit
import Pipeline

/// The output side of `center` and `register` on stacks: a per-frame table (CSV or JSON)
/// streamed to a temporary file renamed into place at the end (or to standard output), a
/// progress line, and pictures written only when the whole table was. With `--shard I/N` only
/// that block of frames is produced, and the table gets its manifest (`TableOutput`), so the
/// shards of `center` and `register` merge with `peaks merge` like those of `detect`.
enum StackOutput {
    typealias AddRow = (_ index: Int, _ values: [Value], _ extra: [(String, [Double])]) throws -> Void

    /// - Parameters:
    ///   - shard: `--shard`, if given: `produce` gets its frame range.
    ///   - inputs: The files whose identity a shard's manifest records (the stack, masks).
    ///   - produce: Runs the frames of `range`, calling `add` for each in frame order.
    ///   - pictures: Rendered after the last frame; written with the table.
    static func write(
        _ frames: SelectedFrames, path: String, output: String?, format: PeakListFormat?, schema: String,
        parameters: [(String, Value)], columns: [String], shard: Shard? = nil, inputs: [String] = [], settings: [(String, Value)] = [],
        produce: (_ add: AddRow, _ progress: @escaping (FrameStream.Progress) -> Void, _ range: Range<Int>) throws -> Void,
        pictures: () throws -> [(path: String, bytes: [UInt8])]
    ) throws {
        let l = frames.layout
        let listFormat = format ?? (output.map { $0.lowercased().hasSuffix(".csv") } == true ? .csv : .json)
        let header = StackSource(path: path, width: l.width, height: l.height, frames: l.frameCount, scan: l.scan.map { ($0.height, $0.width) })
        let range = shard?.frames(of: l.frameCount) ?? 0..<l.frameCount
        let identity = try shard.map { _ in try (inputs.isEmpty ? [path] : inputs).enumerated().flatMap { i, file in
            try InputIdentity.of(file: file).map { (i == 0 ? $0.0 : "input\(i)_" + $0.0, $0.1) }
        } }
        let out = try TableOutput(output: output, shard: shard)
        let writer = FrameTableWriter(
            format: listFormat, schema: schema, source: header, parameters: parameters, columns: columns,
            sink: { try out.write($0) })
        var progressLine = ProgressLine()
        do {
            try produce(
                { index, values, extra in
                    let scan = l.scan?.position(ofFrame: index)
                    try writer.add(FramePosition(frame: frames.sourceIndex(of: index), scanY: scan?.y, scanX: scan?.x), values, extra: extra)
                },
                { progressLine.update($0) }, range)
            try writer.finish()
            let files = try pictures()
            if !files.isEmpty { try AtomicFile.writeAll(files) }
            try out.commit { name, bytes, sha256 in
                ShardManifest(
                    peaksVersion: PeaksVersion.string, shard: shard!, frames: range, totalFrames: l.frameCount,
                    format: listFormat, tableName: name, tableBytes: bytes, tableSHA256: sha256,
                    headerBytes: writer.headerByteCount, footerBytes: writer.footerByteCount, rows: writer.rowCount,
                    input: identity ?? [],
                    settings: [("schema", .string(schema))] + parameters.map { ("parameter " + $0.0, $0.1) } + settings
                        + [("format", .string(listFormat.rawValue))])
            }
        } catch {
            out.abort()
            throw error
        }
    }
}
