import PeakKit
import Testing
@testable import Rendering

@Suite struct ShiftFieldPlotTests {
    @Test func arrowsAndCrossesAreDrawnDeterministically() throws {
        let image = Image(width: 64, height: 64) { x, y in Float((x + y) % 7) }
        let arrows = [FieldArrow(x: 16, y: 16, dx: 2, dy: 0), FieldArrow(x: 48, y: 48, dx: .nan, dy: .nan)]
        let a = try ShiftFieldPlot.png(image: image, arrows: arrows, scale: 8, title: "field")
        let b = try ShiftFieldPlot.png(image: image, arrows: arrows, scale: 8, title: "field")
        #expect(a == b)
        let picture = try RGBAImage.decodePNG(a)
        let layout = try OverlayLayout(imageWidth: 64, imageHeight: 64)
        // The arrow runs from (16, 16) to (32, 16) in image pixels: its middle is marker-coloured.
        let mid = layout.screenPixel(x: 24, y: 16)
        let m = picture[mid.x, mid.y]
        #expect(m.r > 200 && m.g > 180 && m.b < 80, "\(m)")
        // The flat window's cross is red.
        let cross = layout.screenPixel(x: 48, y: 48)
        let c = picture[cross.x, cross.y]
        #expect(c.r > 200 && c.g < 120, "\(c)")
        #expect(throws: PeaksError.self) { try ShiftFieldPlot.png(image: image, arrows: arrows, scale: 0, title: "x") }
    }
}
