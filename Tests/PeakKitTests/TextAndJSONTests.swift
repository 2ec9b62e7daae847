import Foundation
import Testing
@testable import PeakKit

// peaks links FoundationEssentials only, so it carries its own printf formatting, white-space
// trimming and JSON reading. The tests link full Foundation, whose String(format:),
// trimmingCharacters(in: .whitespaces) and JSONSerialization are the independent references.

@Suite struct CFormatTests {
    @Test func handComputedCases() {
        #expect(String(cFormat: "%.3f", 2.0) == "2.000")
        #expect(String(cFormat: "%.1f", 0.25) == "0.2")  // 0.25 is exact: round half to even
        #expect(String(cFormat: "%.1f", 0.35) == "0.3")  // 0.35 is 0.34999…
        #expect(String(cFormat: "%09ld", 1234) == "000001234")
        #expect(String(cFormat: "%.0e", 123456.0) == "1e+05")
        #expect(String(cFormat: "%.3g", 0.000123456) == "0.000123")
        #expect(String(cFormat: "%.2f", -0.001) == "-0.00")
        #expect(String(cFormat: "%04x", UInt32(0x1f)) == "001f")
    }

    @Test func longerThanTheFirstBuffer() {
        // 2^100 is exact in a Double; with 40 decimals it is 72 characters, more than the first
        // 64-byte buffer: the second, exact-size rendering.
        #expect(String(cFormat: "%.40f", 0x1p100) == "1267650600228229401496703205376." + String(repeating: "0", count: 40))
    }

    @Test func matchesFoundationOnRandomNumbers() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let v = Double.random(in: -1e6...1e6, using: &g) * pow(10, Double(Int.random(in: -8...3, using: &g)))
            for f in ["%.3f", "%.1f", "%.2f", "%.4f", "%.0e", "%.3g", "%.6f"] {
                #expect(String(cFormat: f, v) == String(format: f, v), "\(f) of \(v)")
            }
            let i = Int.random(in: 0..<1_000_000_000, using: &g)
            #expect(String(cFormat: "%09ld", i) == String(format: "%09ld", i))
        }
    }
}

@Suite struct TrimmingTests {
    @Test func handComputedCases() {
        #expect("  3.5\t".trimmingWhitespace() == "3.5")
        #expect("\u{00A0}a b\u{3000}".trimmingWhitespace() == "a b")  // no-break and ideographic spaces are Zs
        #expect("\na\n".trimmingWhitespace() == "\na\n")  // line breaks are not white space here
        #expect(" \t ".trimmingWhitespace() == "")
        #expect("".trimmingWhitespace() == "")
        #expect("x"[...].trimmingWhitespace() == "x")
    }

    @Test func matchesFoundationOnRandomStrings() {
        // No U+200B (zero width space): Unicode classes it Cf, not Zs, and Foundation on Linux
        // trims it in some positions and not in others.
        let alphabet: [Character] = [" ", "\t", "\n", "\r", "\u{00A0}", "\u{2003}", "a", "1", ",", "é", "e\u{301}", "\u{3000}"]
        var g = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let s = String((0..<Int.random(in: 0...8, using: &g)).map { _ in alphabet.randomElement(using: &g)! })
            #expect(s.trimmingWhitespace() == s.trimmingCharacters(in: .whitespaces), "\(Array(s.unicodeScalars))")
        }
    }
}

@Suite struct JSONValueTests {
    @Test func booleansAreNotNumbers() throws {
        let v = try JSONValue.parse(Array(#"{"a": true, "b": 1, "c": 0, "d": false, "e": 1.5e3, "f": null}"#.utf8))
        #expect(v["a"] == .bool(true) && v["a"]?.number == nil)
        #expect(v["b"]?.number == 1 && v["b"]?.wholeNumber == 1)
        #expect(v["c"] == .number(0) && v["d"] == .bool(false))
        #expect(v["e"]?.number == 1500 && v["e"]?.wholeNumber == 1500)
        #expect(v["f"] == .null && v["missing"] == nil)
        #expect(try JSONValue.parse(Array("2.5".utf8)).wholeNumber == nil)
    }

    @Test func nestedValuesAndCanonicalText() throws {
        let a = try JSONValue.parse(Array(#"{"z": [1, "x\"y", {"q": null, "b": [true]}], "a": {"n": -0.5}}"#.utf8))
        let b = try JSONValue.parse(Array(#"{"a":{"n":-0.5},"z":[1.0,"x\"y",{"b":[true],"q":null}]}"#.utf8))
        #expect(a == b)
        #expect(a.canonical == #"{"a":{"n":-0.5},"z":[1.0,"x\"y",{"b":[true],"q":null}]}"#)
        #expect(a["z"]?.array?.count == 3 && a["a"]?["n"]?.number == -0.5)
        #expect(a["z"]?.array?[1].displayText == "x\"y")
    }

    @Test func refusesWhatIsNotJSON() {
        for text in ["", "{", "{\"a\": }", "[1, 2", "nul", "{'a': 1}", "\u{FF}"] {
            #expect(throws: (any Error).self, "\(text)") { try JSONValue.parse(Array(text.utf8)) }
        }
    }

    /// Random documents: JSONValue reads what JSONSerialization reads, value for value.
    @Test func matchesJSONSerializationOnRandomDocuments() throws {
        var g = SystemRandomNumberGenerator()
        func random(_ depth: Int) -> Any {
            switch Int.random(in: 0..<(depth > 2 ? 4 : 6), using: &g) {
            case 0: return Bool.random(using: &g)
            case 1: return Double(Int.random(in: -1000...1000, using: &g)) / 8
            case 2: return ["", "a", "é\"\\\n", "\u{1F600}"].randomElement(using: &g)!
            case 3: return NSNull()
            case 4: return (0..<Int.random(in: 0...3, using: &g)).map { _ in random(depth + 1) }
            default:
                var o: [String: Any] = [:]
                for i in 0..<Int.random(in: 0...3, using: &g) { o["k\(i)"] = random(depth + 1) }
                return o
            }
        }
        func isBool(_ n: NSNumber) -> Bool { n.objCType.pointee == CChar(UInt8(ascii: "c")) }
        func same(_ v: JSONValue, _ x: Any) -> Bool {
            switch v {
            case .null: return x is NSNull
            // JSONSerialization gives booleans as NSNumbers of type "c" (char).
            case .bool(let b): return (x as? NSNumber).map { isBool($0) && $0.boolValue == b } ?? false
            case .number(let d): return (x as? NSNumber).map { !isBool($0) && $0.doubleValue == d } ?? false
            case .string(let s): return x as? String == s
            case .array(let a):
                guard let y = x as? [Any], y.count == a.count else { return false }
                return zip(a, y).allSatisfy { same($0, $1) }
            case .object(let o):
                guard let y = x as? [String: Any], Set(y.keys) == Set(o.keys) else { return false }
                return o.allSatisfy { same($0.value, y[$0.key]!) }
            }
        }
        for _ in 0..<500 {
            let doc: [String: Any] = ["root": random(0)]
            let bytes = try JSONSerialization.data(withJSONObject: doc)
            let ours = try JSONValue.parse(Array(bytes))
            let theirs = try JSONSerialization.jsonObject(with: bytes)
            #expect(same(ours, theirs), "\(String(decoding: bytes, as: UTF8.self))")
        }
    }
}

/// peaks' modules link FoundationEssentials only (docs/architecture.md, "FoundationEssentials,
/// not Foundation"): one `import Foundation` in any module would link all of Foundation and its
/// ICU data into `peaks` again, silently, at about 3 ms of every process's start-up.
@Suite struct FoundationEssentialsOnly {
    @Test func noModuleImportsFoundationOutright() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var checked = 0
        for folder in ["Sources", "Plugins"] {
            let base = root.appendingPathComponent(folder)
            let files = try #require(FileManager.default.enumerator(atPath: base.path)).compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
            for file in files {
                let lines = try String(contentsOf: base.appendingPathComponent(file), encoding: .utf8)
                    .split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                for (i, line) in lines.enumerated() where line.hasPrefix("import Foundation") || line.hasPrefix("@_exported import Foundation") {
                    checked += 1
                    if line == "import FoundationEssentials" { continue }
                    let guarded = i >= 3 && lines[i - 1] == "#else" && lines[i - 2] == "import FoundationEssentials"
                        && lines[i - 3] == "#if canImport(FoundationEssentials)"
                    #expect(guarded, "\(folder)/\(file):\(i + 1): '\(line)' outside the `#if canImport(FoundationEssentials) … #else` fallback")
                }
            }
        }
        #expect(checked > 50)  // the scan did find the modules' imports
    }
}

@Suite struct SystemReasonTests {
    /// A folder under a regular file: Foundation reports a CocoaError whose underlying POSIX
    /// error is ENOTDIR; the message is the system's words for it.
    @Test func namesTheUnderlyingPOSIXError() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("peaks-reason-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: file, contents: Data([1])))
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(throws: (any Error).self) { try FileManager.default.createDirectory(atPath: file + "/sub", withIntermediateDirectories: true) }
        do {
            try FileManager.default.createDirectory(atPath: file + "/sub", withIntermediateDirectories: true)
        } catch {
            #expect(PeaksError.systemReason(error) == String(cString: strerror(ENOTDIR)))
        }
        #expect(PeaksError.systemReason(POSIXError(.EACCES)) == String(cString: strerror(EACCES)))
        #expect(PeaksError.systemReason(PeaksError.invalidImage(reason: "x")) == "image: x")
    }
}
