import ArgumentParser
import Detectors
import PeakKit

/// `peaks algorithms`: the registered detectors, with their parameters and defaults, as text or
/// JSON. Everything printed comes from each detector's settings declaration.
struct Algorithms: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "algorithms",
        abstract: "List the detectors with their parameters, defaults, ranges and units.",
        discussion: """
            Every parameter is given to 'peaks detect' as -p NAME=VALUE (some also have their own \
            option, e.g. --min-dist). The shared ones (min_dist, exclude_border) apply to every detector.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "text or json (every detector, every parameter with type, default, range, unit and help).")
    var format: Format = .text

    func run() throws {
        let text = format == .json ? builtinDetectors.catalogJSON() : builtinDetectors.catalogText()
        try CommandInput.finish(text: text, output: nil, files: [])
    }
}
