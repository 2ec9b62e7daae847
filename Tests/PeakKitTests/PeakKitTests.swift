import Foundation
import Testing
@testable import PeakKit

private func peak(_ x: Double, _ y: Double, _ s: Double) -> Peak { Peak(x: x, y: y, value: s, strength: s) }

@Suite struct PostProcessingTests {
    let all = Mask(width: 100, height: 100)

    func run(_ peaks: [Peak], minDistance: Double = 0, border: Int = 0, mask: Mask? = nil, labels: LabelImage? = nil) -> Detection {
        PostProcessing.apply(
            to: Detection(peaks: peaks, attributeNames: [], strengthName: "s", labels: labels),
            mask: mask ?? all, width: 100, height: 100, settings: settings(minDistance, border))
    }

    func settings(_ minDistance: Double, _ border: Int) -> PostProcessingSettings {
        var s = PostProcessingSettings()
        s.minDistance = minDistance
        s.excludeBorder = border
        return s
    }

    @Test func greedyChainKeepsTheThirdPeak() {
        // A-B and B-C are closer than 5, A-C is not: A suppresses B, so C survives.
        let a = peak(10, 10, 9), b = peak(14, 10, 8), c = peak(18, 10, 7)
        #expect(run([c, b, a], minDistance: 5).peaks == [a, c])
    }

    @Test func minDistanceIsInclusive() {
        // Exactly min_dist apart: both kept; a hair closer: the weaker goes.
        #expect(run([peak(10, 10, 2), peak(15, 10, 1)], minDistance: 5).peaks.count == 2)
        #expect(run([peak(10, 10, 2), peak(14.999, 10, 1)], minDistance: 5).peaks.count == 1)
    }

    @Test func suppressionMatchesBruteForceOnRandomPeaks() {
        var state: UInt64 = 12345
        func next() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) * 0x1.0p-53 }
        for trial in 0..<30 {
            let peaks = (0..<200).map { _ in peak(next() * 99, next() * 99, (next() * 50).rounded()) }
            let d = 2 + Double(trial % 7) * 1.7
            let got = run(peaks, minDistance: d).peaks
            // Brute force: the same greedy walk with an O(n^2) scan.
            let order = peaks.indices.sorted { i, j in
                let a = peaks[i], c = peaks[j]
                if a.strength != c.strength { return a.strength > c.strength }
                if a.y != c.y { return a.y < c.y }
                if a.x != c.x { return a.x < c.x }
                return i < j
            }
            var kept: [Peak] = []
            for i in order where !kept.contains(where: { hypot($0.x - peaks[i].x, $0.y - peaks[i].y) < d }) { kept.append(peaks[i]) }
            #expect(got == kept)
        }
    }

    @Test func orderIsStrengthThenRowThenColumn() {
        let got = run([peak(5, 5, 1), peak(3, 7, 2), peak(9, 2, 2), peak(1, 2, 2)]).peaks.map { [$0.x, $0.y] }
        #expect(got == [[1, 2], [9, 2], [3, 7], [5, 5]])
    }

    @Test func borderAndMaskAndOutside() {
        var mask = all
        mask[50, 50] = false
        let got = run([peak(2, 50, 1), peak(97, 50, 1), peak(50, 50, 1), peak(3, 3, 1), peak(-1, 5, 1), peak(50, 100.2, 1), peak(.nan, 3, 1)], border: 3, mask: mask)
        #expect(got.peaks.map(\.x) == [3])
    }

    @Test func labelsFollowTheNewOrder() {
        var labels = LabelImage(width: 100, height: 100, labels: [Int32](repeating: 0, count: 10_000))
        labels[10, 10] = 1; labels[12, 10] = 2; labels[50, 50] = 3
        let got = run([peak(10, 10, 1), peak(12, 10, 5), peak(50, 50, 3)], minDistance: 4, labels: labels)
        #expect(got.peaks.map(\.x) == [12, 50])
        #expect(got.labels?[12, 10] == 1 && got.labels?[50, 50] == 2 && got.labels?[10, 10] == 0)
    }
}

@Suite struct ParameterTests {
    let spec = ParameterSpec(name: "min_dist", kind: .real, defaultValue: .real(0), range: 0...10, help: "")

    @Test func parsesAndChecksRanges() throws {
        #expect(try spec.parse("2.5") == .real(2.5))
        #expect(throws: PeaksError.self) { try spec.parse("-1") }
        #expect(throws: PeaksError.self) { try spec.parse("11") }
        #expect(throws: PeaksError.self) { try spec.parse("nan") }
        #expect(throws: PeaksError.self) { try spec.parse("inf") }
        #expect(throws: PeaksError.self) { try spec.parse("auto") }
        #expect(spec.flag == "min-dist")
        let auto = ParameterSpec(name: "p", kind: .real, defaultValue: .auto, allowsAuto: true, help: "")
        #expect(try auto.parse("AUTO") == .auto)
        let choice = ParameterSpec(name: "c", kind: .choice(["a", "b"]), defaultValue: .string("a"), help: "")
        #expect(try choice.parse("b") == .string("b"))
        #expect(throws: PeaksError.self) { try choice.parse("z") }
        let integer = ParameterSpec(name: "n", kind: .integer, defaultValue: .integer(1), range: 0...5, help: "")
        #expect(throws: PeaksError.self) { try integer.parse("2.5") }
    }

    @Test func setFillsDefaultsRejectsUnknown() throws {
        let set = try ParameterSet(specs: [spec], given: [:])
        #expect(set["min_dist"] == .real(0))
        #expect(throws: PeaksError.self) { try ParameterSet(specs: [spec], given: ["nope": .real(1)]) }
        #expect(try ParameterSet(specs: [spec], given: ["min_dist": .integer(3)])["min_dist"] == .real(3))
    }
}

@Suite struct OutputTests {
    /// JSON strings: the escapes of RFC 8259 where needed (quote, backslash, control
    /// characters), everything else as it is, non-ASCII included.
    @Test func jsonQuotingEscapesOnlyWhatItMust() {
        #expect(JSONText.quote("prominence") == "\"prominence\"")
        #expect(JSONText.quote("") == "\"\"")
        #expect(JSONText.quote("σ 2² µm") == "\"σ 2² µm\"")
        #expect(JSONText.quote("a\"b\\c") == "\"a\\\"b\\\\c\"")
        #expect(JSONText.quote("tab\tline\ncr\r") == "\"tab\\tline\\ncr\\r\"")
        #expect(JSONText.quote("bell\u{07}é") == "\"bell\\u0007é\"")
    }

    @Test func numbersPrintShortestAndRoundTrip() {
        #expect(NumberFormat.string(Double(Float(0.1))) == "0.1")
        #expect(NumberFormat.string(0.1) == "0.1")
        #expect(NumberFormat.string(1.0 / 3.0) == "0.3333333333333333")
        #expect(NumberFormat.string(-0.0) == "0.0")
        #expect(NumberFormat.string(12) == "12.0")
        #expect(NumberFormat.json(.nan) == "null")
        for v in [1e-7, 123456.789, 3.0e20, -2.5] { #expect(Double(NumberFormat.string(v)) == v) }
    }

    @Test func jsonAndCSVAgreeAndParse() throws {
        let d = Detection(
            peaks: [Peak(x: 1, y: 2, value: 3.5, strength: 1, attributes: ["prominence": 1, "extra": 0.25]),
                    Peak(x: 4, y: 5, value: 6, strength: 0.5, attributes: ["prominence": 0.5])],
            attributeNames: ["prominence", "extra"], strengthName: "prominence",
            diagnostics: [("noise", .number(0.1)), ("note", .string("a \"quoted\"\nline"))])
        let params = try ParameterSet(specs: [ParameterSpec(name: "k", kind: .real, defaultValue: .real(2), help: "")])
        let source = ImageSource(path: "dir/x.png", width: 10, height: 20)
        let json = PeakListFormat.json.render(d, algorithm: "test", parameters: params, source: source)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(doc["schema"] as? String == "peaks.detection/1")
        #expect((doc["diagnostics"] as? [String: Any])?["note"] as? String == "a \"quoted\"\nline")
        let peaks = try #require(doc["peaks"] as? [[String: Any]])
        #expect(peaks[0]["extra"] as? Double == 0.25 && peaks[1]["extra"] is NSNull)
        let csv = PeakListFormat.csv.render(d, algorithm: "test", parameters: params, source: source)
        #expect(csv == "x,y,value,prominence,extra\n1.0,2.0,3.5,1.0,0.25\n4.0,5.0,6.0,0.5,\n")
    }

    @Test func atomicWriteAllOrNothing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peakkit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let good = dir.appendingPathComponent("a.txt").path
        let bad = dir.appendingPathComponent("missing/b.txt").path
        #expect(throws: PeaksError.self) { try AtomicFile.writeAll([(good, [1, 2]), (bad, [3])]) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        try AtomicFile.writeAll([(good, [1, 2])])
        #expect(try Data(contentsOf: URL(fileURLWithPath: good)) == Data([1, 2]))
    }

    @Test func refusesToReplaceSomethingThatIsNotARegularFile() throws {
        // A rename over a device or a pipe would replace it (`-o /dev/null` as root replaced
        // /dev/null with a regular file). A FIFO stands in for the device here.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peakkit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let fifo = dir.appendingPathComponent("pipe").path
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: PeaksError.self) { try AtomicFile.writeAll([(fifo, [1])]) }
        var st = stat()
        #expect(stat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["pipe"])
    }
}

@Suite struct ImageTests {
    @Test func rowMajorIndexing() {
        var image = Image(width: 3, height: 2) { x, y in Float(10 * y + x) }
        #expect(image.pixels == [0, 1, 2, 10, 11, 12])
        image[2, 1] = .nan
        #expect(image.firstNonFinitePixel()?.x == 2 && image.firstNonFinitePixel()?.y == 1)
        #expect(Mask(finitePixelsOf: image).validCount == 5)
        #expect(throws: PeaksError.self) { try Mask(width: 2, height: 3).checkShape(matches: image) }
    }

    /// `subtract(_:keepingEvery:)` leaves what `subtract` leaves and keeps pixels step - 1,
    /// 2 step - 1, ... of the result, across the 16,384-pixel bands it is cut into.
    @Test(arguments: [1, 3, 4, 7, 16_384, 40_000])
    func subtractKeepsEveryStepthResult(step: Int) {
        for (w, h) in [(1, 1), (5, 3), (300, 200), (181, 97)] {
            let a = Image(width: w, height: h) { x, y in Float((x * 7 + y * 13) % 29) - 3.5 }
            let b = Image(width: w, height: h) { x, y in Float((x * 5 + y * 3) % 11) * 0.25 }
            var plain = a, kept = a
            plain.subtract(b)
            let samples = kept.subtract(b, keepingEvery: step)
            #expect(kept.pixels.map(\.bitPattern) == plain.pixels.map(\.bitPattern))
            let want = stride(from: step - 1, to: plain.count, by: step).map { plain.pixels[$0] }
            #expect(samples.map(\.bitPattern) == want.map(\.bitPattern), "\(w)x\(h), step \(step)")
        }
    }

    @Test func registryFindsAndRejects() throws {
        struct Dummy: PeakDetector {
            var name = "dummy"
            var summary = ""
            struct Settings: DetectorSettings {
                static let fields: [SettingField<Settings>] = []
            }
            func candidates(in image: Image, mask: Mask, settings: Settings, options: DetectionOptions) throws -> Detection {
                Detection(peaks: [Peak(x: 0, y: 0, value: 1, strength: 1)], attributeNames: [], strengthName: "s")
            }
        }
        let registry = DetectorRegistry([Dummy()])
        #expect(registry.names == ["dummy"])
        #expect(throws: PeaksError.self) { try registry.require("other") }
        // detect() applies the shared checks before the detector runs.
        #expect(throws: PeaksError.self) { try Dummy().detect(in: Image(width: 0, height: 3)) }
        #expect(try Dummy().detect(in: Image(width: 2, height: 2)).peaks.count == 1)
    }
}

@Suite struct TypedSettingsTests {
    struct Example: DetectorSettings {
        enum Mode: String, SettingChoice { case fast, exact }
        var sigma = 1.5
        var count = 3
        var threshold: Automatic<Double> = .auto
        var mode = Mode.exact
        var flag = false
        static let fields: [SettingField<Example>] = [
            .real("sigma", \.sigma, range: 0.5...10, unit: "px", help: "s"),
            .integer("count", \.count, range: 1...9, help: "c"),
            .real("threshold", \.threshold, range: 0...100, help: "t"),
            .choice("mode", \.mode, help: "m"),
            .boolean("flag", \.flag, help: "f"),
        ]
    }

    @Test func specsCarryTheDeclaredDefaultsAndRanges() {
        let specs = Example.specs
        #expect(specs.map(\.name) == ["sigma", "count", "threshold", "mode", "flag"])
        #expect(specs[0].defaultValue == .real(1.5) && specs[0].range == 0.5...10 && specs[0].unit == "px")
        #expect(specs[1].defaultValue == .integer(3) && specs[1].range == 1...9)
        #expect(specs[2].defaultValue == .auto && specs[2].allowsAuto)
        #expect(specs[3].kind == .choice(["fast", "exact"]) && specs[3].defaultValue == .string("exact"))
        #expect(specs[4].defaultValue == .boolean(false))
    }

    @Test func parameterSetDecodesIntoTheStruct() throws {
        let set = try ParameterSet(
            specs: Example.specs,
            given: ["sigma": .integer(2), "threshold": .real(7), "mode": .string("fast"), "flag": .boolean(true)])
        let s = Example(set)
        #expect(s.sigma == 2 && s.count == 3 && s.threshold == .value(7) && s.mode == .fast && s.flag)
        // Round trip: the struct's values are the set's entries.
        #expect(s.values.map(\.0) == set.entries.map(\.0))
        #expect(zip(s.values, set.entries).allSatisfy { $0.1 == $1.1 })
        #expect(Example(try ParameterSet(specs: Example.specs)).threshold == .auto)
    }

    @Test func outOfRangeAndUnknownNamesAreRefusedWithASuggestion() {
        #expect(throws: PeaksError.self) { try ParameterSet(specs: Example.specs, given: ["sigma": .real(11)]) }
        do {
            _ = try ParameterSet(specs: Example.specs, given: ["sigam": .real(1)], detectorName: "example")
            Issue.record("accepted an unknown name")
        } catch {
            #expect("\(error)".contains("did you mean 'sigma'?"))
            #expect("\(error)".contains("it has: sigma, count, threshold, mode, flag"))
        }
        #expect(closestName(to: "promience", in: ["prominence", "noise", "smooth"]) == "prominence")
        #expect(closestName(to: "zzzzzz", in: ["prominence", "noise"]) == nil)
    }
}

@Suite struct SelectionTests {
    /// `normalMAD` by hand: median 3, absolute deviations 2 1 0 1 97, their median 1, so
    /// 1.4826 (the outlier 100 moves nothing); the lower median for even counts; empty gives 0.
    @Test func normalMADByHand() {
        var a: [Float] = [100, 2, 4, 1, 3]
        #expect(Selection.normalMAD(&a) == 1.482602218505602)
        var b: [Float] = [10, 10, 10, 10]
        #expect(Selection.normalMAD(&b) == 0)
        var c: [Float] = [0, 4, 1, 7]  // lower median 1; deviations 1 3 0 6; lower median 1
        #expect(Selection.normalMAD(&c) == 1.482602218505602)
        var e: [Float] = []
        #expect(Selection.normalMAD(&e) == 0)
    }

    /// Radix selection against a full sort, on random values with many ties, both signs, zeros,
    /// huge and tiny magnitudes, and sizes around the switch-over to quickselect.
    @Test func radixSelectionEqualsTheSortedValue() {
        var rng = SystemRandomNumberGenerator()
        for n in [4096, 4097, 5000, 65_536, 100_003] {
            for kind in 0..<4 {
                let values: [Float] = (0..<n).map { _ in
                    switch kind {
                    case 0: return Float.random(in: -1...1, using: &rng)
                    case 1: return Float(Int.random(in: -3...3, using: &rng))  // heavy ties, zeros
                    case 2: return Float.random(in: 0...1, using: &rng) < 0.5 ? 0 : Float.random(in: -1e30...1e30, using: &rng)
                    default: return Float.random(in: 1...1.0001, using: &rng)  // one exponent, low bits differ
                    }
                }
                let sorted = values.sorted()
                for k in [0, 1, n / 3, (n - 1) / 2, n - 2, n - 1] {
                    var copy = values
                    #expect(Selection.select(&copy, k) == sorted[k], "n \(n) kind \(kind) k \(k)")
                }
            }
        }
    }

    /// The sampled-bracket pass (Floyd-Rivest) on inputs that defeat its sample: values whose
    /// strided sample is unrepresentative (every sampled index holds an outlier), sorted and
    /// reversed ramps, heavy ties at the bracket bounds, a few huge values among noise. Its answer
    /// is nil (bucket selection then runs) or exactly the sorted value; on plain noise it answers.
    @Test func sampledBracketSelectionIsExactOrDeclines() {
        // SplitMix64 with a fixed seed: the same inputs on every run.
        struct SplitMix: RandomNumberGenerator {
            var state: UInt64 = 0x5EED
            mutating func next() -> UInt64 {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
        }
        var rng = SplitMix()
        for n in [16_384, 65_537, 262_144] {
            let stride = n / Selection.boundsSample
            for kind in 0..<6 {
                let values: [Float] = (0..<n).map { i in
                    switch kind {
                    case 0: return Float.random(in: -1...1, using: &rng)
                    case 1: return i % stride == 0 ? 1e6 : Float.random(in: -1...1, using: &rng)
                    case 2: return Float(i)
                    case 3: return Float(n - i)
                    case 4: return Float(Int.random(in: 0...2, using: &rng))
                    default: return Float.random(in: 0...1, using: &rng) < 0.01 ? 5000 : Float.random(in: -1...1, using: &rng)
                    }
                }
                let sorted = values.sorted()
                for k in [0, n / 10, (n - 1) / 2, n - n / 10, n - 1] {
                    let fast = Selection.sampledBoundsSelect(values, k)
                    #expect(fast == nil || fast == sorted[k], "n \(n) kind \(kind) k \(k)")
                    if kind == 0 || kind == 4 { #expect(fast != nil, "n \(n) kind \(kind) k \(k)") }
                    var copy = values
                    #expect(Selection.select(&copy, k) == sorted[k], "n \(n) kind \(kind) k \(k)")
                }
            }
        }
    }

    @Test func stackSamplesAreEvenlySpacedAndIndependentOfShards() {
        #expect(StackSampling.indices(frameCount: 0) == [])
        #expect(StackSampling.indices(frameCount: 1) == [0])
        #expect(StackSampling.indices(frameCount: 3) == [0, 1, 2])
        #expect(StackSampling.indices(frameCount: 8) == Array(0..<8))
        #expect(StackSampling.indices(frameCount: 15) == [0, 2, 4, 6, 8, 10, 12, 14])
        #expect(StackSampling.indices(frameCount: 4096) == [0, 585, 1170, 1755, 2340, 2925, 3510, 4095])
    }
}
