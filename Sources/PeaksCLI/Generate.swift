import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Harness
import ImageIO
import PeakKit

/// `peaks generate`: one synthetic image with its ground truth.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Make a synthetic image with known peaks (ground truth).",
        discussion: """
            Writes into the folder given by --out: image.npy (float32, exact values), image.png \
            (16-bit; png = round(value * scale + offset), scale and offset in truth.json), mask.png \
            (symmetric class with a beam stop; 255 = valid) and truth.json (the peaks with x, y, \
            amplitude, sigma; the centre; the generator's parameters). The same class, size and \
            seed give the same bytes. The models are described in docs/evaluation.md.

            Classes: \(SyntheticClass.allCases.map(\.rawValue).joined(separator: ", ")), and disc-scan: \
            LiberTEM-blobfinder's upsampling notebook dataset, a 4-D scan (--scan WxH, default 45x12) of \
            --size frames (default 64) each holding a disc of --radius px (default 6) moved by a known \
            subpixel Fourier shift: data.npy (float32, shape (scan_y, scan_x, size, size)) and \
            shifts.csv (frame, scan_y, scan_x, x, y, dx, dy: the true centre and shift).

            Examples:
              peaks generate --class noisy --size 512 --seed 7 --out noisy-7
              peaks generate --class disc-scan --out disc-scan        # 12 x 45 frames of 64 x 64
            """)

    @Option(name: .customLong("class"), help: ArgumentHelp("The image class.", valueName: "name"))
    var synthClass: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Width and height in pixels (\(SyntheticGenerator.sizeRange.lowerBound)...\(SyntheticGenerator.sizeRange.upperBound)).", valueName: "px"))
    var size: Int?

    @Option(help: ArgumentHelp("disc-scan: the scan grid, columns x rows (default 45x12).", valueName: "WxH"))
    var scan: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("disc-scan: the disc radius in pixels (default 6).", valueName: "px"))
    var radius: Double = 6

    @Option(help: ArgumentHelp("Seed of the random generator (0...2^64-1).", valueName: "n"))
    var seed: UInt64 = 1

    @Flag(name: .customLong("no-beam-stop"), help: "symmetric class: no beam stop (no mask; the central beam becomes a truth peak).")
    var noBeamStop = false

    @Option(help: ArgumentHelp("The output folder (created; an earlier generate folder is replaced).", valueName: "dir"))
    var out: String

    func run() throws {
        if synthClass == "disc-scan" { return try discScan() }
        let size = self.size ?? 512
        guard let c = SyntheticClass(rawValue: synthClass) else {
            throw UsageError("unknown --class '\(synthClass)' (known: \(SyntheticClass.allCases.map(\.rawValue).joined(separator: ", ")), disc-scan)")
        }
        let g = try SyntheticGenerator.generate(c, size: size, seed: seed, beamStop: !noBeamStop)
        let files = GeneratedFiles.render(g).map { (path: $0.name, bytes: $0.bytes) }
        let known: Set<String> = ["image.npy", "image.png", "mask.png", "truth.json"]
        try OutputFolder.write(files, to: out, what: "folder written by 'peaks generate'") { names in
            names.allSatisfy { known.contains($0) }
        }
    }

    /// `--class disc-scan`: data.npy and shifts.csv, streamed frame by frame into the folder.
    func discScan() throws {
        var sw = 45, sh = 12
        if let scan {
            let parts = scan.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else {
                throw UsageError("--scan: expected WxH with two positive whole numbers (e.g. 45x12), got '\(scan)'")
            }
            (sw, sh) = (w, h)
        }
        let n = size ?? 64
        let g = try DiscScan(size: n, scanWidth: sw, scanHeight: sh, radius: radius)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let data = try AtomicStream(out + "/data.npy")
        let table = try AtomicStream(out + "/shifts.csv")
        TemporaryFiles.installHandlers()
        do {
            try data.write(NPY.float32Header(shape: [sh, sw, n, n]))
            try table.write("frame,scan_y,scan_x,x,y,dx,dy\n")
            for i in 0..<g.frameCount {
                var bytes = [UInt8]()
                bytes.reserveCapacity(n * n * 4)
                for v in g.frame(i) { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
                try data.write(bytes)
                let c = g.centre(ofFrame: i), s = g.shift(scanY: i / sw, scanX: i % sw)
                try table.write([String(i), String(i / sw), String(i % sw), NumberFormat.string(c.x), NumberFormat.string(c.y),
                                 NumberFormat.string(s.dx), NumberFormat.string(s.dy)].joined(separator: ",") + "\n")
            }
            try AtomicStream.commitAll([data, table])
        } catch {
            data.abort()
            table.abort()
            throw error
        }
    }
}
