import ArgumentParser
import Detectors
import PeakKit

/// `peaks algorithms`: the registered detectors, with their parameters and defaults.
struct Algorithms: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the detectors with their parameters, defaults and ranges.")

    func run() throws {
        var out = ""
        for d in builtinDetectors.detectors {
            out += "\(d.name)\n    \(d.summary)\n"
            for spec in d.allParameterSpecs {
                var line = "    --\(spec.flag) \(Self.kindText(spec.kind))  default \(spec.defaultValue)"
                if let r = spec.range { line += ", range \(NumberFormat.string(r.lowerBound))...\(NumberFormat.string(r.upperBound))" }
                out += line + "\n        \(spec.help)\n"
            }
            out += "\n"
        }
        print(out, terminator: "")
    }

    static func kindText(_ kind: ParameterKind) -> String {
        switch kind {
        case .real: return "<number>"
        case .integer: return "<integer>"
        case .boolean: return "<true|false>"
        case .choice(let options): return "<" + options.joined(separator: "|") + ">"
        }
    }
}
