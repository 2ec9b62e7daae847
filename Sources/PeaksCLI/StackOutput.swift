import Foundation
import ImageIO
import PeakKit
import Pipeline

/// The output side of `center` and `register` on stacks: a per-frame table (CSV or JSON)
/// streamed to a temporary file renamed into place at the end (or to standard output), a
/// progress line, and pictures written only when the whole table was.
enum StackOutput {
    typealias AddRow = (_ index: Int, _ values: [Value], _ extra: [(String, [Double])]) throws -> Void

    /// - Parameters:
    ///   - produce: Runs the frames, calling `add` for each in frame order.
    ///   - pictures: Rendered after the last frame; written with the table.
    static func write(
        _ frames: SelectedFrames, path: String, output: String?, format: PeakListFormat?, schema: String,
        parameters: [(String, Value)], columns: [String],
        produce: (_ add: AddRow, _ progress: @escaping (FrameStream.Progress) -> Void) throws -> Void,
        pictures: () throws -> [(path: String, bytes: [UInt8])]
    ) throws {
        let l = frames.layout
        let listFormat = format ?? (output.map { $0.lowercased().hasSuffix(".csv") } == true ? .csv : .json)
        let header = StackSource(path: path, width: l.width, height: l.height, frames: l.frameCount, scan: l.scan.map { ($0.height, $0.width) })
        let stream = try output.map { try AtomicStream($0) }
        TemporaryFiles.installHandlers()
        let writer = FrameTableWriter(
            format: listFormat, schema: schema, source: header, parameters: parameters, columns: columns,
            sink: { text in
                if let stream { try stream.write(text) } else { try StandardOutput.write(text) }
            })
        var progressLine = ProgressLine()
        do {
            try produce(
                { index, values, extra in
                    let scan = l.scan?.position(ofFrame: index)
                    try writer.add(FramePosition(frame: frames.sourceIndex(of: index), scanY: scan?.y, scanX: scan?.x), values, extra: extra)
                },
                { progressLine.update($0) })
            try writer.finish()
            let files = try pictures()
            if !files.isEmpty { try AtomicFile.writeAll(files) }
            try stream?.commit()
        } catch {
            stream?.abort()
            throw error
        }
    }
}
