/// The detectors of a registry with their parameters, as `peaks algorithms` prints them (text or
/// JSON) and as the C ABI (`peaks_algorithms_json`) returns them: one rendering for both.
extension DetectorRegistry {
    /// The message for an algorithm name that is not registered, with a "did you mean" hint and
    /// the known names. `spelledAs` is how the caller names the setting (`--algo`, `algo`).
    public func unknownDetectorMessage(_ name: String, spelledAs: String) -> String {
        let hint = closestName(to: name, in: names).map { "did you mean '\($0)'? " } ?? ""
        return "unknown \(spelledAs) '\(name)' (\(hint)known: \(names.joined(separator: ", ")))"
    }

    /// Every detector with its parameters, defaults, ranges, units and help, as text.
    public func catalogText() -> String {
        var out = ""
        for d in detectors {
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

    /// `{"schema": "peaks.algorithms/1", "algorithms": [{"name", "summary", "parameters": [...]}]}`:
    /// each parameter with name, type, default, min/max (numbers), choices, auto, unit and help.
    public func catalogJSON() -> String {
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
        let algorithms = detectors.map { d in
            "    {\"name\": \(JSONText.quote(d.name)), \"summary\": \(JSONText.quote(d.summary)), \"parameters\": [\n"
                + d.allParameterSpecs.map { "      " + parameter($0) }.joined(separator: ",\n") + "\n    ]}"
        }
        return "{\n  \"schema\": \"peaks.algorithms/1\",\n  \"algorithms\": [\n" + algorithms.joined(separator: ",\n") + "\n  ]\n}\n"
    }
}
