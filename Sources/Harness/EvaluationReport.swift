#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ImageIO
import PeakKit
import Rendering
import Spectral

/// Facts about a run that are not results: for the manifest and the report header.
public struct RunInfo: Sendable {
    public var peaksVersion: String
    /// `git rev-parse HEAD` of the checkout the program runs in, when known.
    public var gitCommit: String?
    /// The command line as given.
    public var arguments: [String]
    /// Every setting of the run, in output order (class list, count, size, seed, tolerance, ...).
    /// These go into results.json and the manifest, so they must not include thread counts.
    public var settings: [(String, Value)]
    /// How to rerun (shown in the report).
    public var command: String
    /// Worker threads (manifest only).
    public var threads: Int
    public init(peaksVersion: String, gitCommit: String?, arguments: [String], settings: [(String, Value)], command: String, threads: Int) {
        self.peaksVersion = peaksVersion; self.gitCommit = gitCommit; self.arguments = arguments
        self.settings = settings; self.command = command; self.threads = threads
    }
}

/// The files of an evaluation folder, rendered in memory (write them with `OutputFolder`).
///
/// | file | content | deterministic |
/// |---|---|---|
/// | results.json | schema "peaks.evaluation/1": settings, algorithms with their default parameters, per class and algorithm summary, sweeps, per case results | yes |
/// | results.csv | one row per case and algorithm, then one per class and algorithm (`level` = case / class) | yes |
/// | timings.csv | detect time per case and algorithm in milliseconds | no |
/// | report.md, report.html | summary table, charts, per-case table with overlays | yes |
/// | images/f1.png, images/pr-CLASS.png, images/errors.png | charts | yes |
/// | overlays/CASE-ALGO.png | true positives, false positives, misses | yes |
/// | manifest.json | versions, arguments, settings, SHA-256 of every input and of every output but timings.csv | yes |
///
/// Every file but timings.csv is byte-identical for the same inputs, arguments and seed. The git
/// commit is recorded only when given (`RunInfo.gitCommit`): the folder a run starts in is not
/// peaks' source, so the CLI gives none.
public enum EvaluationReport {
    public static let schema = "peaks.evaluation/1"

    public static func files(_ r: EvaluationResult, info: RunInfo, overlays: Bool = true) throws -> [(path: String, bytes: [UInt8])] {
        var files: [(path: String, bytes: [UInt8])] = []
        files.append(("results.json", Array(resultsJSON(r, info: info).utf8)))
        files.append(("results.csv", Array(resultsCSV(r).utf8)))
        files.append(("timings.csv", Array(timingsCSV(r).utf8)))
        let charts = try chartFiles(r)
        files += charts
        var overlayNames: [String: String] = [:]
        if overlays {
            for (i, c) in r.cases.enumerated() {
                for (a, name) in r.algorithms.enumerated() {
                    let res = r.result(case: i, algorithm: a)
                    let path = "overlays/\(fileName(c.name))-\(fileName(name)).png"
                    files.append((path, try overlay(c, res)))
                    overlayNames["\(i)/\(a)"] = path
                }
            }
        }
        files.append(("report.md", Array(markdown(r, info: info, charts: charts.map(\.path), overlays: overlayNames).utf8)))
        files.append(("report.html", Array(html(r, info: info, charts: charts.map(\.path), overlays: overlayNames).utf8)))
        files.append(("manifest.json", Array(manifest(r, info: info, outputs: files.filter { $0.path != "timings.csv" }).utf8)))
        return files
    }

    /// A safe file name part: letters, digits, '-', '_' and '.' kept, others become '_'.
    static func fileName(_ s: String) -> String {
        String(s.unicodeScalars.map { c -> Character in
            c.isASCII && (c.properties.isAlphabetic || c.properties.numericType != nil) || c == "-" || c == "_" || c == "." ? Character(c) : "_"
        })
    }

    // MARK: results.json

    static func optionalNumber(_ v: Double?) -> Value { v.map { .number($0) } ?? .null }

    static func scoreEntries(_ s: Scores) -> [(String, Value)] {
        [("tp", .integer(s.truePositives)), ("fp", .integer(s.falsePositives)), ("fn", .integer(s.falseNegatives)),
         ("precision", .number(s.precision)), ("recall", .number(s.recall)), ("f1", .number(s.f1)),
         ("jaccard", .number(s.jaccard)), ("rmse", optionalNumber(s.rmse)),
         ("bias_dx", optionalNumber(s.biasX)), ("bias_dy", optionalNumber(s.biasY))]
    }

    static func resultsJSON(_ r: EvaluationResult, info: RunInfo) -> String {
        var s = "{\n  \"schema\": \(JSONText.quote(schema)),\n"
        s += "  \"settings\": \(JSONText.object(info.settings)),\n"
        s += "  \"matching\": \(JSONText.object([("tolerance_px", .number(r.settings.tolerance)), ("rule", .string("one-to-one optimal assignment (Hungarian): most pairs with distance <= tolerance, then least total distance"))])),\n"
        s += "  \"algorithms\": [\n" + zip(r.algorithms, r.parameters).map { name, p in
            "    {\"name\": \(JSONText.quote(name)), \"parameters\": \(JSONText.object(p.entries.map { ($0.0, $0.1.asValue) }))}"
        }.joined(separator: ",\n") + "\n  ],\n"
        var summary: [String] = []
        for cls in r.classNames {
            for (a, name) in r.algorithms.enumerated() {
                let n = r.cases.filter { $0.className == cls }.count
                let truth = r.cases.filter { $0.className == cls }.reduce(0) { $0 + $1.truth.count }
                summary.append("    " + JSONText.object(
                    [("class", .string(cls)), ("algorithm", .string(name)), ("cases", .integer(n)), ("truth", .integer(truth))]
                        + scoreEntries(r.summary(className: cls, algorithm: a))))
            }
        }
        for (a, name) in r.algorithms.enumerated() {
            summary.append("    " + JSONText.object(
                [("class", .string("all")), ("algorithm", .string(name)), ("cases", .integer(r.cases.count)),
                 ("truth", .integer(r.cases.reduce(0) { $0 + $1.truth.count }))] + scoreEntries(r.summary(className: nil, algorithm: a))))
        }
        s += "  \"summary\": [\n" + summary.joined(separator: ",\n") + "\n  ],\n"
        var sweeps: [String] = []
        for sw in r.sweeps {
            let best = sw.points[sw.best]
            var t = "    {\"class\": \(JSONText.quote(sw.className)), \"algorithm\": \(JSONText.quote(sw.algorithm)), \"parameter\": \(JSONText.quote(sw.parameter)),\n"
            t += "     \"default\": \(JSONText.object(scoreEntries(sw.defaultScores).filter { ["precision", "recall", "f1"].contains($0.0) })),\n"
            t += "     \"best\": \(JSONText.object([("threshold", .number(best.threshold)), ("precision", .number(best.scores.precision)), ("recall", .number(best.scores.recall)), ("f1", .number(best.scores.f1))])),\n"
            t += "     \"points\": [\n" + sw.points.map { p in
                "       " + JSONText.object([("threshold", .number(p.threshold)), ("tp", .integer(p.scores.truePositives)), ("fp", .integer(p.scores.falsePositives)), ("fn", .integer(p.scores.falseNegatives)), ("precision", .number(p.scores.precision)), ("recall", .number(p.scores.recall)), ("f1", .number(p.scores.f1))])
            }.joined(separator: ",\n") + "\n     ]}"
            sweeps.append(t)
        }
        s += "  \"sweeps\": [" + (sweeps.isEmpty ? "],\n" : "\n" + sweeps.joined(separator: ",\n") + "\n  ],\n")
        var cases: [String] = []
        for (i, c) in r.cases.enumerated() {
            for a in r.algorithms.indices {
                let res = r.result(case: i, algorithm: a)
                cases.append("    " + JSONText.object(
                    [("case", .string(c.name)), ("class", .string(c.className)), ("algorithm", .string(res.algorithm)),
                     ("truth", .integer(c.truth.count)), ("detections", .integer(res.detections.count))]
                        + scoreEntries(res.scores) + [("error", res.error.map { .string($0) } ?? .null)]))
            }
        }
        s += "  \"cases\": [\n" + cases.joined(separator: ",\n") + "\n  ]\n}\n"
        return s
    }

    // MARK: CSV

    static func csvField(_ s: String) -> String {
        s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacing("\"", with: "\"\"") + "\"" : s
    }

    static func csvScores(_ s: Scores) -> String {
        func o(_ v: Double?) -> String { v.map(NumberFormat.string) ?? "" }
        return [String(s.truePositives), String(s.falsePositives), String(s.falseNegatives),
                NumberFormat.string(s.precision), NumberFormat.string(s.recall), NumberFormat.string(s.f1),
                NumberFormat.string(s.jaccard), o(s.rmse), o(s.biasX), o(s.biasY)].joined(separator: ",")
    }

    static func resultsCSV(_ r: EvaluationResult) -> String {
        var s = "level,case,class,algorithm,truth,detections,tp,fp,fn,precision,recall,f1,jaccard,rmse,bias_dx,bias_dy\n"
        for (i, c) in r.cases.enumerated() {
            for a in r.algorithms.indices {
                let res = r.result(case: i, algorithm: a)
                s += "case,\(csvField(c.name)),\(csvField(c.className)),\(csvField(res.algorithm)),\(c.truth.count),\(res.detections.count),\(csvScores(res.scores))\n"
            }
        }
        for cls in r.classNames {
            for (a, name) in r.algorithms.enumerated() {
                let sc = r.summary(className: cls, algorithm: a)
                let truth = r.cases.filter { $0.className == cls }.reduce(0) { $0 + $1.truth.count }
                s += "class,,\(csvField(cls)),\(csvField(name)),\(truth),\(sc.truePositives + sc.falsePositives),\(csvScores(sc))\n"
            }
        }
        return s
    }

    static func timingsCSV(_ r: EvaluationResult) -> String {
        var s = "case,class,algorithm,width,height,detect_ms\n"
        for (i, c) in r.cases.enumerated() {
            for a in r.algorithms.indices {
                let res = r.result(case: i, algorithm: a)
                s += "\(csvField(c.name)),\(csvField(c.className)),\(csvField(res.algorithm)),\(c.image.width),\(c.image.height),\(String(cFormat: "%.3f", res.seconds * 1000))\n"
            }
        }
        return s
    }

    // MARK: Pictures

    static func chartFiles(_ r: EvaluationResult) throws -> [(path: String, bytes: [UInt8])] {
        var out: [(path: String, bytes: [UInt8])] = []
        let classes = r.classNames
        let f1 = r.algorithms.indices.map { a in classes.map { Optional(r.summary(className: $0, algorithm: a).f1) } }
        out.append(("images/f1.png", try Charts.barChart(
            title: "F1 per class (tolerance \(NumberFormat.string(r.settings.tolerance)) px, default parameters)",
            groups: classes, series: r.algorithms, values: f1, yLabel: "F1 score (0-1)", yRange: 0...1)))
        for cls in classes {
            let lines = r.sweeps.filter { $0.className == cls }.map { sw -> ChartLine in
                let best = sw.points[sw.best]
                return ChartLine(
                    name: sw.algorithm,
                    points: sw.points.map { ($0.scores.recall, $0.scores.precision) },
                    markers: [
                        (best.scores.recall, best.scores.precision, "best F1 \(String(cFormat: "%.2f", best.scores.f1))", true),
                        (sw.defaultScores.recall, sw.defaultScores.precision, "default F1 \(String(cFormat: "%.2f", sw.defaultScores.f1))", false),
                    ])
            }
            guard !lines.isEmpty else { continue }
            out.append(("images/pr-\(fileName(cls)).png", try Charts.lineChart(
                title: "Precision-recall over prominence: \(cls)", xLabel: "recall (fraction of truth found)",
                yLabel: "precision (fraction of detections true)", xRange: 0...1, yRange: 0...1, lines: lines)))
        }
        // Localisation errors of matched pairs, 12 bins from 0 to the tolerance.
        let tol = max(r.settings.tolerance, 1e-6)
        let bins = 12
        let edges = (0...bins).map { Double($0) * tol / Double(bins) }
        let series = r.algorithms.indices.map { a -> (name: String, counts: [Int]) in
            var counts = [Int](repeating: 0, count: bins)
            for i in r.cases.indices {
                for p in r.result(case: i, algorithm: a).match.pairs {
                    counts[min(bins - 1, max(0, Int(p.distance / tol * Double(bins))))] += 1
                }
            }
            return (r.algorithms[a], counts)
        }
        out.append(("images/errors.png", try Charts.histogram(
            title: "Localisation error of matched pairs (all classes)", xLabel: "distance from truth (px)",
            yLabel: "matched pairs", binEdges: edges, series: series)))
        return out
    }

    static func overlay(_ c: EvaluationCase, _ res: CaseResult) throws -> [UInt8] {
        let tp = res.match.pairs.map { p in
            (detection: (x: res.detections[p.detection].x, y: res.detections[p.detection].y), truth: (x: c.truth[p.truth].x, y: c.truth[p.truth].y))
        }
        let fp = res.match.unmatchedDetections.map { (x: res.detections[$0].x, y: res.detections[$0].y) }
        let fn = res.match.unmatchedTruth.map { (x: c.truth[$0].x, y: c.truth[$0].y) }
        let title = "\(res.algorithm) on \(c.name): F1 \(String(cFormat: "%.3f", res.scores.f1))"
        return try MatchOverlay.png(image: c.image, mask: c.mask, truePositives: tp, falsePositives: fp, misses: fn, title: title)
    }

    // MARK: Reports

    static func f(_ v: Double?, _ digits: Int = 3) -> String { v.map { String(cFormat: "%.\(digits)f", $0) } ?? "–" }

    /// Rows of the summary table: class, algorithm, cases, truth, TP, FP, FN, precision, recall,
    /// F1, Jaccard, RMSE, bias dx, bias dy, best F1 (threshold).
    static func summaryRows(_ r: EvaluationResult) -> [[String]] {
        var rows: [[String]] = []
        for cls in r.classNames + ["all"] {
            for (a, name) in r.algorithms.enumerated() {
                let sc = r.summary(className: cls == "all" ? nil : cls, algorithm: a)
                let cases = r.cases.filter { cls == "all" || $0.className == cls }
                var best = "–"
                if let sw = r.sweeps.first(where: { $0.className == cls && $0.algorithm == name }) {
                    let p = sw.points[sw.best]
                    best = "\(f(p.scores.f1)) (\(NumberFormat.string(Double(Float(p.threshold)))))"
                }
                rows.append([cls, name, String(cases.count), String(cases.reduce(0) { $0 + $1.truth.count }),
                             String(sc.truePositives), String(sc.falsePositives), String(sc.falseNegatives),
                             f(sc.precision), f(sc.recall), f(sc.f1), f(sc.jaccard), f(sc.rmse), f(sc.biasX), f(sc.biasY), best])
            }
        }
        return rows
    }

    static let summaryHeader = ["class", "algorithm", "cases", "truth", "TP", "FP", "FN", "precision", "recall", "F1", "Jaccard", "RMSE (px)", "bias dx (px)", "bias dy (px)", "best F1 (prominence)"]

    static func markdown(_ r: EvaluationResult, info: RunInfo, charts: [String], overlays: [String: String]) -> String {
        func row(_ cells: [String]) -> String { "| " + cells.map { $0.replacing("|", with: "\\|") }.joined(separator: " | ") + " |\n" }
        var s = "# peaks evaluation\n\n"
        s += "peaks \(info.peaksVersion)\(info.gitCommit.map { " (commit \($0.prefix(12)))" } ?? ""); "
        s += "\(r.cases.count) case\(r.cases.count == 1 ? "" : "s") in \(r.classNames.count) class\(r.classNames.count == 1 ? "" : "es"), "
        s += "algorithms: \(r.algorithms.joined(separator: ", ")); matching tolerance \(NumberFormat.string(r.settings.tolerance)) px.\n\n"
        s += "Rerun: `\(info.command)`\n\n"
        s += "## Summary\n\nScores summed over the cases of each class (micro-average), with each detector's default parameters. "
        s += "Best F1 is the highest F1 of the prominence sweep, with its threshold.\n\n"
        s += row(summaryHeader) + row(summaryHeader.map { _ in "---" })
        for cells in summaryRows(r) { s += row(cells) }
        s += "\n## Charts\n\n"
        for c in charts { s += "![\(c)](\(c))\n\n" }
        s += "## Cases\n\nGreen rings: true positives (line to the truth peak); red crosses: false positives; cyan squares: misses.\n\n"
        s += row(["case", "class", "algorithm", "truth", "detections", "TP", "FP", "FN", "F1", "RMSE (px)", "overlay"])
        s += row(Array(repeating: "---", count: 11))
        for (i, c) in r.cases.enumerated() {
            for a in r.algorithms.indices {
                let res = r.result(case: i, algorithm: a)
                let link = overlays["\(i)/\(a)"].map { "[png](\($0))" } ?? ""
                s += row([c.name, c.className, res.algorithm, String(c.truth.count), String(res.detections.count),
                          String(res.scores.truePositives), String(res.scores.falsePositives), String(res.scores.falseNegatives),
                          f(res.scores.f1), f(res.scores.rmse), link + (res.error.map { " error: \($0)" } ?? "")])
            }
        }
        s += "\n## Definitions\n\n"
        s += "A detection and a truth peak may pair when they are at most the tolerance apart; the pairing is one-to-one and optimal "
        s += "(most pairs, then least total distance; Hungarian algorithm). TP = pairs, FP = unpaired detections, FN = unpaired truth peaks; "
        s += "precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN), Jaccard = TP/(TP+FP+FN), RMSE = root mean square pair distance, "
        s += "bias = mean (detection - truth). As in the ISBI 2012 particle tracking challenge and the EPFL SMLM challenge. See docs/evaluation.md.\n"
        return s
    }

    static func escape(_ s: String) -> String {
        s.replacing("&", with: "&amp;").replacing("<", with: "&lt;")
            .replacing(">", with: "&gt;").replacing("\"", with: "&quot;")
    }

    static func html(_ r: EvaluationResult, info: RunInfo, charts: [String], overlays: [String: String]) -> String {
        func row(_ cells: [String], header: Bool = false) -> String {
            let tag = header ? "th" : "td"
            return "<tr>" + cells.map { "<\(tag)>\(escape($0))</\(tag)>" }.joined() + "</tr>\n"
        }
        var s = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>peaks evaluation</title>
            <style>
            body { font-family: "DejaVu Sans", sans-serif; margin: 2em; color: #111; }
            table { border-collapse: collapse; font-size: 0.85em; margin-bottom: 1.5em; }
            th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
            th { background: #f0f0f0; } td:first-child, td:nth-child(2) { text-align: left; }
            img { max-width: 100%; margin: 0.5em 0; }
            code { background: #f4f4f4; padding: 0.1em 0.3em; }
            .overlays img { width: 384px; margin-right: 0.5em; }
            </style></head><body>
            <h1>peaks evaluation</h1>

            """
        s += "<p>peaks \(escape(info.peaksVersion))\(info.gitCommit.map { " (commit \(escape(String($0.prefix(12)))))" } ?? ""); "
        s += "\(r.cases.count) cases in \(r.classNames.count) classes; algorithms: \(escape(r.algorithms.joined(separator: ", "))); "
        s += "matching tolerance \(NumberFormat.string(r.settings.tolerance)) px.</p>\n"
        s += "<p>Rerun: <code>\(escape(info.command))</code></p>\n<h2>Summary</h2>\n"
        s += "<p>Scores summed over the cases of each class (micro-average), default parameters; best F1 from the prominence sweep.</p>\n<table>\n"
        s += row(summaryHeader, header: true)
        for cells in summaryRows(r) { s += row(cells) }
        s += "</table>\n<h2>Charts</h2>\n"
        for c in charts { s += "<img src=\"\(escape(c))\" alt=\"\(escape(c))\">\n" }
        s += "<h2>Cases</h2>\n<p>Green rings: true positives (line to the truth peak); red crosses: false positives; cyan squares: misses.</p>\n<table>\n"
        s += row(["case", "class", "algorithm", "truth", "detections", "TP", "FP", "FN", "F1", "RMSE (px)", "overlay"], header: true)
        for (i, c) in r.cases.enumerated() {
            for a in r.algorithms.indices {
                let res = r.result(case: i, algorithm: a)
                var cells = [c.name, c.className, res.algorithm, String(c.truth.count), String(res.detections.count),
                             String(res.scores.truePositives), String(res.scores.falsePositives), String(res.scores.falseNegatives),
                             f(res.scores.f1), f(res.scores.rmse)].map { "<td>\(escape($0))</td>" }.joined()
                cells += "<td>" + (overlays["\(i)/\(a)"].map { "<a href=\"\(escape($0))\">png</a>" } ?? "") + (res.error.map { " error: \(escape($0))" } ?? "") + "</td>"
                s += "<tr>\(cells)</tr>\n"
            }
        }
        s += "</table>\n"
        if !overlays.isEmpty {
            s += "<div class=\"overlays\">\n"
            for (i, _) in r.cases.enumerated() {
                for a in r.algorithms.indices { if let o = overlays["\(i)/\(a)"] { s += "<img src=\"\(escape(o))\" alt=\"\(escape(o))\">\n" } }
            }
            s += "</div>\n"
        }
        s += "<h2>Definitions</h2>\n<p>Pairs within the tolerance, one-to-one, optimal (most pairs, then least total distance; Hungarian algorithm). "
        s += "precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN), Jaccard = TP/(TP+FP+FN), RMSE = root mean square pair distance, "
        s += "bias = mean(detection &minus; truth). As in the ISBI 2012 particle tracking and EPFL SMLM challenges; see docs/evaluation.md.</p>\n</body></html>\n"
        return s
    }

    // MARK: Manifest

    static func manifest(_ r: EvaluationResult, info: RunInfo, outputs: [(path: String, bytes: [UInt8])]) -> String {
        var s = "{\n  \"schema\": \"peaks.manifest/1\",\n"
        var program: [(String, Value)] = [("name", .string("peaks")), ("version", .string(info.peaksVersion))]
        if let g = info.gitCommit { program.append(("git_commit", .string(g))) }
        s += "  \"program\": \(JSONText.object(program)),\n"
        s += "  \"libraries\": \(JSONText.object([("libpng", .string(LibPNGInfo.version)), ("cairo", .string(CairoInfo.version)), ("fftw", .string(FFTWInfo.version))])),\n"
        s += "  \"arguments\": [" + info.arguments.map(JSONText.quote).joined(separator: ", ") + "],\n"
        s += "  \"settings\": \(JSONText.object(info.settings + [("threads", .integer(info.threads))])),\n"
        s += "  \"algorithms\": [\n" + zip(r.algorithms, r.parameters).map { name, p in
            "    {\"name\": \(JSONText.quote(name)), \"parameters\": \(JSONText.object(p.entries.map { ($0.0, $0.1.asValue) }))}"
        }.joined(separator: ",\n") + "\n  ],\n"
        var inputs: [String] = []
        for c in r.cases {
            for i in c.inputs {
                var e: [(String, Value)] = [("case", .string(c.name)), ("path", .string(i.path)), ("sha256", .string(i.sha256))]
                if let cmd = c.command { e.append(("generated_by", .string(cmd))) }
                inputs.append("    " + JSONText.object(e))
            }
        }
        s += "  \"inputs\": [" + (inputs.isEmpty ? "],\n" : "\n" + inputs.joined(separator: ",\n") + "\n  ],\n")
        s += "  \"outputs\": [\n" + outputs.map { "    " + JSONText.object([("path", .string($0.path)), ("bytes", .integer($0.bytes.count)), ("sha256", .string(SHA256.hex($0.bytes)))]) }.joined(separator: ",\n")
        s += "\n  ]\n}\n"
        return s
    }
}
