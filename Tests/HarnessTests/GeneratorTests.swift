import Foundation
import Testing
import ImageIO
import PeakKit
@testable import Harness

@Suite struct GeneratorTests {
    @Test(arguments: SyntheticClass.allCases)
    func sameSeedSameBytesOtherSeedOther(_ c: SyntheticClass) throws {
        let a = GeneratedFiles.render(try SyntheticGenerator.generate(c, size: 96, seed: 11))
        let b = GeneratedFiles.render(try SyntheticGenerator.generate(c, size: 96, seed: 11))
        let other = GeneratedFiles.render(try SyntheticGenerator.generate(c, size: 96, seed: 12))
        #expect(a.map(\.name) == b.map(\.name))
        #expect(zip(a, b).allSatisfy { $0.bytes == $1.bytes })
        #expect(a.first { $0.name == "image.npy" }?.bytes != other.first { $0.name == "image.npy" }?.bytes)
        #expect(a.allSatisfy { !$0.bytes.isEmpty })
        #expect(a.map(\.name).contains("mask.png") == (c == .symmetric))
    }

    @Test(arguments: SyntheticClass.allCases)
    func truthLiesInsideAndTheImageShowsIt(_ c: SyntheticClass) throws {
        let g = try SyntheticGenerator.generate(c, size: 128, seed: 3)
        #expect(g.image.width == 128 && g.image.height == 128)
        #expect(g.peaks.count >= 3, "\(c): \(g.peaks.count) peaks")
        #expect(g.image.firstNonFinitePixel() == nil)
        for p in g.peaks {
            #expect(p.x >= 0 && p.y >= 0 && p.x <= 127 && p.y <= 127)
            #expect((p.amplitude ?? 0) > 0 && (p.sigma ?? 0) > 0)
            if let m = g.mask { #expect(m[Int(p.x.rounded()), Int(p.y.rounded())]) }
        }
        // The truth file round-trips through the reader (Foundation's JSON number parsing is not
        // always correctly rounded on Linux: equal to 1e-12 relative).
        func close(_ a: Double?, _ b: Double?) -> Bool {
            guard let a, let b else { return a == nil && b == nil }
            return abs(a - b) <= 1e-12 * max(1, abs(a))
        }
        let text = TruthFile.render(g)
        let back = try TruthFile.parse(Array(text.utf8), path: "truth.json")
        #expect(back.peaks.count == g.peaks.count)
        for (p, q) in zip(back.peaks, g.peaks) {
            #expect(close(p.x, q.x) && close(p.y, q.y) && close(p.amplitude, q.amplitude) && close(p.sigma, q.sigma))
        }
        // The 16-bit PNG decodes to the float image through the stated scale and offset.
        let files = GeneratedFiles.render(g)
        let png = try ImageFile.decode(try #require(files.first { $0.name == "image.png" }).bytes, path: "image.png")
        var worst = 0.0
        for (q, v) in zip(png.pixels, g.image.pixels) {
            worst = max(worst, abs((Double(q) - g.pngOffset) / g.pngScale - Double(v)))
        }
        #expect(worst <= 0.5 / g.pngScale * 1.0001 + 1e-3, "\(c): PNG error \(worst)")
        let npy = try ImageFile.decode(try #require(files.first { $0.name == "image.npy" }).bytes, path: "image.npy")
        #expect(npy == g.image)
    }

    /// Independent checks of the models' stated properties.
    @Test func modelsHaveTheirStatedProperties() throws {
        // noisy: the mean background level is 100 and its sd sqrt(100 + 9).
        let noisy = try SyntheticGenerator.generate(.noisy, size: 256, seed: 5)
        var far: [Double] = []
        for y in 0..<256 { for x in 0..<256 where noisy.peaks.allSatisfy({ hypot($0.x - Double(x), $0.y - Double(y)) > 12 }) {
            far.append(Double(noisy.image[x, y]))
        } }
        let mean = far.reduce(0, +) / Double(far.count)
        let sd = (far.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(far.count)).squareRoot()
        #expect(abs(mean - 100) < 0.5 && abs(sd - 109.0.squareRoot()) < 0.3, "mean \(mean) sd \(sd)")
        let snr = noisy.peaks.map { ($0.amplitude ?? 0) / 109.0.squareRoot() }
        #expect(snr.allSatisfy { $0 >= 2 && $0 < 8 })
        // hdr: at least four decades of amplitude (on a big enough sample).
        let hdr = try SyntheticGenerator.generate(.hdr, size: 512, seed: 5)
        let amps = hdr.peaks.compactMap(\.amplitude)
        #expect(amps.allSatisfy { $0 >= 50 && $0 < 5e5 })
        #expect(try #require(amps.max()) / (try #require(amps.min())) > 1e3)
        // crowded: pairs at 1-3 FWHM.
        let crowded = try SyntheticGenerator.generate(.crowded, size: 256, seed: 5)
        let fwhm = 2 * (2 * log(2.0)).squareRoot()
        for k in stride(from: 0, to: crowded.peaks.count, by: 2) {
            let a = crowded.peaks[k], b = crowded.peaks[k + 1]
            let d = hypot(a.x - b.x, a.y - b.y) / (fwhm * (a.sigma ?? 1))
            #expect(d >= 1 - 1e-9 && d <= 3 + 1e-9)
        }
        // symmetric: the truth are lattice points c + i a + j b; the beam is masked.
        let sym = try SyntheticGenerator.generate(.symmetric, size: 256, seed: 5)
        let c = try #require(sym.center)
        let mask = try #require(sym.mask)
        #expect(!mask[Int(c.x.rounded()), Int(c.y.rounded())])
        #expect(sym.peaks.count > 10)
        let noStop = try SyntheticGenerator.generate(.symmetric, size: 256, seed: 5, beamStop: false)
        #expect(noStop.mask == nil)
        #expect(noStop.peaks.contains { $0.x == c.x && $0.y == c.y })
        // low-contrast: spots are below 1% of the local level.
        let low = try SyntheticGenerator.generate(.lowContrast, size: 128, seed: 5)
        #expect(low.peaks.allSatisfy { ($0.amplitude ?? 0) < 0.01 * 14000 })
    }

    @Test func sizesOutsideTheRangeAreRefused() {
        #expect(throws: PeaksError.self) { try SyntheticGenerator.generate(.noisy, size: 5, seed: 1) }
        #expect(throws: PeaksError.self) { try SyntheticGenerator.generate(.noisy, size: 100_000, seed: 1) }
        #expect(throws: PeaksError.self) { try SyntheticClass.named("fuzzy") }
    }

    @Test func truthReaderRejectsBadFiles() {
        for text in ["", "[1,2]", "{\"peaks\": 3}", "{\"peaks\": [{\"x\": 1}]}", "{\"peaks\": [{\"x\": true, \"y\": 2}]}", "{nope"] {
            #expect(throws: PeaksError.self, "\(text)") { try TruthFile.parse(Array(text.utf8), path: "t.json") }
        }
        let ok = try? TruthFile.parse(Array("{\"peaks\": [{\"x\": 1, \"y\": 2.5, \"other\": \"z\"}], \"more\": 1}".utf8), path: "t.json")
        #expect(ok?.peaks == [TruthPeak(x: 1, y: 2.5)])
    }
}

@Suite struct SHA256Tests {
    // FIPS 180-4 / NIST example values (SHA256.pdf, "Examples with intermediate values").
    @Test func nistVectors() {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalEqualsOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for cut in [0, 1, 55, 56, 63, 64, 65, 500, 1000] {
            var s = SHA256()
            s.update(bytes[0..<cut])
            s.update(bytes[cut...])
            #expect(s.finalize() == {
                var t = SHA256(); t.update(bytes); return t.finalize()
            }())
        }
    }
}
