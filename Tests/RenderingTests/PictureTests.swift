import PeakKit
import Testing
@testable import Rendering

@Suite struct PictureTests {
    func sample() -> RGBAImage {
        var img = RGBAImage(width: 3, height: 2, filling: RGBA(r: 10, g: 20, b: 30))
        img[2, 1] = RGBA(r: 200, g: 100, b: 0)
        return img
    }

    @Test func compareCountsDifferences() {
        let a = sample()
        var b = a
        b[0, 0] = RGBA(r: 15, g: 20, b: 30)    // differs by 5
        b[1, 1] = RGBA(r: 10, g: 70, b: 30)    // differs by 50
        b[2, 0] = RGBA(r: 10, g: 20, b: 30, a: 250)  // alpha differs by 5

        let strict = RGBAImage.compare(a, b, tolerance: 0)
        #expect(strict.differingPixels == 3 && strict.maxChannelDifference == 50)
        let loose = RGBAImage.compare(a, b, tolerance: 10)
        #expect(loose.differingPixels == 1 && loose.maxChannelDifference == 50)
        #expect(!loose.isMatch)
        // Diff picture: red where different, a third of `a` elsewhere.
        #expect(loose.diff[1, 1] == RGBA(r: 255, g: 0, b: 0))
        #expect(loose.diff[0, 0] == RGBA(r: 3, g: 6, b: 10))
        #expect(loose.diff[2, 1] == RGBA(r: 66, g: 33, b: 0))

        let same = RGBAImage.compare(a, a, tolerance: 0)
        #expect(same.isMatch && same.maxChannelDifference == 0)

        // Different sizes: the extra column counts as different.
        let wider = RGBAImage(width: 4, height: 2, filling: RGBA(r: 10, g: 20, b: 30))
        let sized = RGBAImage.compare(a, wider, tolerance: 0)
        #expect(sized.diff.width == 4 && sized.diff.height == 2)
        #expect(sized.differingPixels == 2 + 1 && sized.maxChannelDifference == 255)
    }

    @Test func pngRoundTrip() throws {
        let a = sample()
        let back = try RGBAImage.decodePNG(a.encodePNG())
        #expect(back == a)
        // Translucent pixels survive up to premultiplication rounding.
        var t = a
        t[0, 1] = RGBA(r: 200, g: 100, b: 50, a: 128)
        t[1, 0] = RGBA(r: 9, g: 9, b: 9, a: 0)
        let tb = try RGBAImage.decodePNG(t.encodePNG())
        #expect(RGBAImage.compare(t, tb, tolerance: 2).differingPixels == 1)  // the fully transparent one loses its colour
        #expect(tb[1, 0] == RGBA(r: 0, g: 0, b: 0, a: 0))
        #expect(tb[0, 1].a == 128)
        // Garbage is an error, not a crash.
        #expect(throws: PeaksError.self) { try RGBAImage.decodePNG([1, 2, 3, 4]) }
        #expect(throws: PeaksError.self) { try RGBAImage.decodePNG(Array(a.encodePNG().prefix(40))) }
        #expect(throws: PeaksError.self) { try RGBAImage(width: 0, height: 0, pixels: []).encodePNG() }
    }

    @Test func labelPreviewColours() throws {
        let labels = LabelImage(width: 4, height: 2, labels: [0, 1, 1, 2, 0, 0, 2, 2])
        let c0 = LabelPreview.colour(of: 0), c1 = LabelPreview.colour(of: 1), c2 = LabelPreview.colour(of: 2)
        #expect(c0 == RGBA(r: 0, g: 0, b: 0))
        #expect(c1 != c2 && c1 != c0 && c2 != c0)
        #expect(max(c1.r, c1.g, c1.b) > 150 && max(c2.r, c2.g, c2.b) > 150)
        // Distinct over the first hundred labels.
        let many = (1...100).map { LabelPreview.colour(of: Int32($0)) }
        for i in 0..<many.count { for j in (i + 1)..<many.count { #expect(many[i] != many[j]) } }

        let d = try RGBAImage.decodePNG(LabelPreview.png(labels: labels))
        // ceil(512 / 4) = 128 screen pixels per label pixel, no title bar.
        #expect(d.width == 512 && d.height == 256)
        #expect(d[64, 64] == c0)
        #expect(d[128 + 64, 64] == c1)
        #expect(d[3 * 128 + 64, 64] == c2)
        #expect(d[2 * 128 + 64, 128 + 64] == c2)
        // Deterministic.
        #expect(try LabelPreview.png(labels: labels) == LabelPreview.png(labels: labels))
    }
}
