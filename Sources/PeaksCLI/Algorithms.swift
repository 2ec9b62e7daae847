import ArgumentParser
import Detectors
import PeakKit

/// `peaks algorithms`: the registered detectors, with their parameters and defaults, as text or
/// JSON. Everything printed comes from each detector's settings declaration.
struct Algorithms: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the detectors with their parameters, defaults, ranges and units.",
        discussion: """
            Every parameter is given to 'peaks detect' as -p NAME=VALUE (some also have their own \
            option, e.g. --min-dist). The shared ones (min_dist, exclude_border) apply to every detector.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "text or json (every detector, every parameter with type, default, range, unit and help).")
    var format: Format = .text

    func run() throws {
        let text = format == .json ? Self.json(builtinDetectors) : Self.text(builtinDetectors)
        try CommandInput.finish(text: text, output: nil, files: [])
    }

    static func text(_ registry: DetectorRegistry) -> String {
        var out = ""
        for d in registry.detectors {
            out += "\(d.name)\n    \(d.summary)\n"
            for spec in d.allParameterSpecs {
                var line = "    -p \(spec.name)=<\(spec.allowedText)>  default \(spec.defaultValue)"
                if !spec.unit.isEmpty { line += " [\(spec.unit)]" }
                out += line + "\n        \(spec.help)\n"
            }
            out += "\n"
        }
        return out
    }

    /// `{"schema": "peaks.algorithms/1", "algorithms": [{"name", "summary", "parameters": [...]}]}`.
    static func json(_ registry: DetectorRegistry) -> String {
        func parameter(_ spec: ParameterSpec) -> String {
            var fields: [(String, String)] = [
                ("name", JSONText.quote(spec.name)),
                ("type", JSONText.quote(spec.kind.name)),
                ("default", JSONText.value(spec.defaultValue.asValue)),
            ]
            if let r = spec.range {
                fields.append(("min", NumberFormat.json(r.lowerBound)))
                fields.append(("max", NumberFormat.json(r.upperBound)))
            }
            if case .choice(let options) = spec.kind {
                fields.append(("choices", "[" + options.map(JSONText.quote).joined(separator: ", ") + "]"))
            }
            fields.append(("auto", spec.allowsAuto ? "true" : "false"))
            fields.append(("unit", JSONText.quote(spec.unit)))
            fields.append(("help", JSONText.quote(spec.help)))
            return "{" + fields.map { "\(JSONText.quote($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
        }
        let algorithms = registry.detectors.map { d in
            "    {\"name\": \(JSONText.quote(d.name)), \"summary\": \(JSONText.quote(d.summary)), \"parameters\": [\n"
                + d.allParameterSpecs.map { "      " + parameter($0) }.joined(separator: ",\n") + "\n    ]}"
        }
        return "{\n  \"schema\": \"peaks.algorithms/1\",\n  \"algorithms\": [\n" + algorithms.joined(separator: ",\n") + "\n  ]\n}\n"
    }
}
