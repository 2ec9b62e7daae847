import ArgumentParser
import ImageIO
import PeakKit

/// `peaks formats`: the file formats peaks reads (and writes), from the format registry.
struct Formats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formats",
        abstract: "List the file formats peaks reads and writes.",
        discussion: "The format of an input is chosen from its first bytes, never from its extension (the extension only breaks ties between formats without a magic number).")

    @Option(help: "text or json.")
    var format: Algorithms.Format = .text

    func run() throws {
        let registry = ImageFormat.registry
        let text: String
        switch format {
        case .text:
            text = registry.map { f in
                "\(f.name)  [\(f.extensions.map { "." + $0 }.joined(separator: " "))]  stacks: \(f.readsStacks ? "yes" : "no")  writes: \(f.writes.isEmpty ? "-" : f.writes)\n    \(f.summary)\n"
            }.joined()
        case .json:
            let entries = registry.map { f in
                "    " + JSONText.object([
                    ("name", .string(f.name)), ("extensions", .string(f.extensions.joined(separator: " "))),
                    ("stacks", .bool(f.readsStacks)), ("writes", .string(f.writes)), ("summary", .string(f.summary)),
                ])
            }
            text = "{\n  \"schema\": \"peaks.formats/1\",\n  \"formats\": [\n" + entries.joined(separator: ",\n") + "\n  ]\n}\n"
        }
        try StandardOutput.write(text)
    }
}
