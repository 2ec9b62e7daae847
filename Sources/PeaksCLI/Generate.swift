import ArgumentParser
import Foundation
import Harness
import PeakKit

/// `peaks generate`: one synthetic image with its ground truth.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a synthetic image with known peaks (ground truth).",
        discussion: """
            Writes into the folder given by --out: image.npy (float32, exact values), image.png \
            (16-bit; png = round(value * scale + offset), scale and offset in truth.json), mask.png \
            (symmetric class with a beam stop; 255 = valid) and truth.json (the peaks with x, y, \
            amplitude, sigma; the centre; the generator's parameters). The same class, size and \
            seed give the same bytes. The models are described in docs/evaluation.md.

            Classes: \(SyntheticClass.allCases.map(\.rawValue).joined(separator: ", ")).

            Example:
              peaks generate --class noisy --size 512 --seed 7 --out noisy-7
            """)

    @Option(name: .customLong("class"), help: ArgumentHelp("The image class.", valueName: "name"))
    var synthClass: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Width and height in pixels (\(SyntheticGenerator.sizeRange.lowerBound)...\(SyntheticGenerator.sizeRange.upperBound)).", valueName: "px"))
    var size: Int = 512

    @Option(help: ArgumentHelp("Seed of the random generator (0...2^64-1).", valueName: "n"))
    var seed: UInt64 = 1

    @Flag(name: .customLong("no-beam-stop"), help: "symmetric class: no beam stop (no mask; the central beam becomes a truth peak).")
    var noBeamStop = false

    @Option(help: ArgumentHelp("The output folder (created; an earlier generate folder is replaced).", valueName: "dir"))
    var out: String

    func run() throws {
        guard let c = SyntheticClass(rawValue: synthClass) else {
            throw UsageError("unknown --class '\(synthClass)' (known: \(SyntheticClass.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let g = try SyntheticGenerator.generate(c, size: size, seed: seed, beamStop: !noBeamStop)
        let files = GeneratedFiles.render(g).map { (path: $0.name, bytes: $0.bytes) }
        let known: Set<String> = ["image.npy", "image.png", "mask.png", "truth.json"]
        try OutputFolder.write(files, to: out, what: "folder written by 'peaks generate'") { names in
            names.allSatisfy { known.contains($0) }
        }
    }
}
