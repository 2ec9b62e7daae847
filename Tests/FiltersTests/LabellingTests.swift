import Testing
import Harness
import PeakKit
@testable import Filters

/// Breadth-first labelling, components numbered in raster order of their first pixel.
private func bfsLabels(_ v: [Bool], _ w: Int, _ h: Int, eight: Bool) -> [Int32] {
    var labels = [Int32](repeating: 0, count: v.count)
    var next: Int32 = 0
    var offsets = [(1, 0), (-1, 0), (0, 1), (0, -1)]
    if eight { offsets += [(1, 1), (1, -1), (-1, 1), (-1, -1)] }
    for start in 0..<v.count where v[start] && labels[start] == 0 {
        next += 1
        labels[start] = next
        var queue = [start], head = 0
        while head < queue.count {
            let i = queue[head]; head += 1
            let x = i % w, y = i / w
            for (dx, dy) in offsets {
                let nx = x + dx, ny = y + dy
                guard nx >= 0, ny >= 0, nx < w, ny < h else { continue }
                let j = ny * w + nx
                if v[j] && labels[j] == 0 { labels[j] = next; queue.append(j) }
            }
        }
    }
    return labels
}

private func mask(_ rows: [String]) -> Mask {
    Mask(width: rows[0].count, height: rows.count, isValid: rows.flatMap { $0.map { $0 == "#" } })
}

@Suite struct ConnectedComponentsTests {
    @Test func diagonalPixels() {
        let m = mask(["#.", ".#"])
        let eight = ConnectedComponents.label(m, connectivity: .eight)
        #expect(eight.count == 1 && eight.labels.labels == [1, 0, 0, 1])
        let four = ConnectedComponents.label(m, connectivity: .four)
        #expect(four.count == 2 && four.labels.labels == [1, 0, 0, 2])
        // Anti-diagonal: the up-right neighbour joins them.
        let anti = ConnectedComponents.label(mask([".#", "#."]), connectivity: .eight)
        #expect(anti.count == 1 && anti.labels.labels == [0, 1, 1, 0])
    }

    @Test func mergesAndRasterOrder() {
        // A U whose arms meet at the bottom, then a blob that starts later but reaches further up.
        let m = mask([
            "#.#...",
            "#.#..#",
            "###..#",
            "....##",
        ])
        let (labels, count) = ConnectedComponents.label(m, connectivity: .four)
        #expect(count == 2)
        #expect(labels[0, 0] == 1 && labels[2, 0] == 1 && labels[1, 2] == 1)
        #expect(labels[5, 1] == 2 && labels[4, 3] == 2)
        #expect(labels.maxLabel == 2)
        // A staircase: one component with 8-connectivity, one per pixel with 4.
        let stairs = mask(["#...", ".#..", "..#.", "...#"])
        #expect(ConnectedComponents.label(stairs, connectivity: .eight).count == 1)
        #expect(ConnectedComponents.label(stairs, connectivity: .four).count == 4)
    }

    @Test func emptyAndDegenerateInputs() {
        #expect(ConnectedComponents.label(Mask(width: 0, height: 0)).count == 0)
        #expect(ConnectedComponents.label(Mask(width: 5, height: 0)).count == 0)
        #expect(ConnectedComponents.label(Mask(width: 4, height: 3, allValid: false)).count == 0)
        let full = ConnectedComponents.label(Mask(width: 4, height: 3), connectivity: .four)
        #expect(full.count == 1 && full.labels.labels.allSatisfy { $0 == 1 })
        #expect(ConnectedComponents.label([true, false, true], width: 3, height: 1, connectivity: .eight).count == 2)
        #expect(ConnectedComponents.label([true, false, true], width: 1, height: 3, connectivity: .eight).count == 2)
    }

    @Test func randomMasksMatchBreadthFirstSearch() {
        var rng = SeededRandom(seed: 1234)
        for trial in 0..<60 {
            let w = 1 + Int(rng.uniform(0, 40)), h = 1 + Int(rng.uniform(0, 40))
            let density = [0.3, 0.45, 0.55, 0.6, 0.75][trial % 5]
            let v = (0..<(w * h)).map { _ in rng.uniform() < density }
            for connectivity in Connectivity.allCases {
                let got = ConnectedComponents.label(v, width: w, height: h, connectivity: connectivity)
                let want = bfsLabels(v, w, h, eight: connectivity == .eight)
                // Same numbering rule, so equal labels, hence also the same partition.
                #expect(got.labels.labels == want)
                #expect(got.count == Int(want.max() ?? 0))
            }
        }
    }
}

@Suite struct RegionPropertiesTests {
    @Test func rectangle() throws {
        var labels = LabelImage(width: 8, height: 5, labels: [Int32](repeating: 0, count: 40))
        for y in 1...2 { for x in 2...4 { labels[x, y] = 1 } }  // 3 wide, 2 high
        let r = try #require(try RegionProperties.measure(labels).first)
        #expect(r.label == 1 && r.area == 6)
        #expect(r.boundingBox == BoundingBox(minX: 2, minY: 1, maxX: 4, maxY: 2))
        #expect(r.boundingBox.width == 3 && r.boundingBox.height == 2)
        #expect(r.centroid == SIMD2(3.0, 1.5))
        #expect(r.weightedCentroid == r.centroid)
        #expect(r.convexArea == 6 && r.solidity == 1)
        #expect(r.maxIntensity == nil && r.maxPosition == nil)
    }

    @Test func lShapes() throws {
        // 3-pixel L: hull of the corners is the 2x2 square minus a half pixel.
        let small = LabelImage(width: 2, height: 2, labels: [1, 0, 1, 1])
        let s = try RegionProperties.measure(small)[0]
        #expect(s.area == 3 && s.convexArea == 3.5)
        #expect(abs(s.centroid.x - 1.0 / 3) < 1e-12 && abs(s.centroid.y - 2.0 / 3) < 1e-12)
        // 5-pixel L in a 3x3 box: 9 minus the triangle (0.5,-0.5), (2.5,-0.5), (2.5,1.5) of area 2.
        let big = LabelImage(width: 3, height: 3, labels: [1, 0, 0, 1, 0, 0, 1, 1, 1])
        let b = try RegionProperties.measure(big)[0]
        #expect(b.area == 5 && b.convexArea == 7)
        #expect(b.centroid == SIMD2(0.6, 1.4))
        #expect(abs(b.solidity - 5.0 / 7) < 1e-12)
        #expect(b.boundingBox == BoundingBox(minX: 0, minY: 0, maxX: 2, maxY: 2))
    }

    @Test func singlePixelLineAndGaps() throws {
        var labels = LabelImage(width: 6, height: 4, labels: [Int32](repeating: 0, count: 24))
        labels[5, 3] = 3              // label 3: one pixel
        for x in 0..<4 { labels[x, 0] = 1 }  // label 1: a row of 4; label 2 absent
        labels[0, 2] = -7             // negative = background
        let regions = try RegionProperties.measure(labels)
        #expect(regions.map(\.label) == [1, 2, 3])
        #expect(regions[0].area == 4 && regions[0].convexArea == 4)
        #expect(regions[1].area == 0 && regions[1].centroid.x.isNaN && regions[1].convexArea == 0)
        #expect(regions[2].area == 1 && regions[2].convexArea == 1 && regions[2].centroid == SIMD2(5, 3))
        #expect(try RegionProperties.measure(LabelImage(width: 3, height: 3, labels: [Int32](repeating: 0, count: 9))).isEmpty)
        #expect(try RegionProperties.measure(LabelImage(width: 0, height: 0, labels: [])).isEmpty)
        #expect(throws: PeaksError.self) { try RegionProperties.measure(labels, intensity: Image(width: 5, height: 4)) }
    }

    @Test func convexAreaOfADisk() throws {
        // A digital disk of radius 6: the hull of its pixel squares is between its area and the
        // area of the continuous disk of radius 6 + sqrt(2)/2.
        let m = Morphology.dilate(Mask(width: 15, height: 15, isValid: (0..<225).map { $0 == 7 * 15 + 7 }), radius: 6)
        let (labels, count) = ConnectedComponents.label(m, connectivity: .four)
        #expect(count == 1)
        let r = try RegionProperties.measure(labels)[0]
        #expect(Double(r.area) < r.convexArea)
        #expect(r.convexArea < Double.pi * (6 + 0.7072) * (6 + 0.7072))
        #expect(r.centroid == SIMD2(7, 7))
    }

    @Test func intensityWeightedCentroidOfASpot() throws {
        var image = Image(width: 25, height: 25)
        SpotRenderer.add([Spot(x: 10.3, y: 12.7, amplitude: 50, sigma: 1.5)], to: &image)
        let labels = LabelImage(width: 25, height: 25, labels: (0..<625).map { i in
            let dx = Double(i % 25) - 10.3, dy = Double(i / 25) - 12.7
            return dx * dx + dy * dy <= 64 ? 1 : 0
        })
        let r = try RegionProperties.measure(labels, intensity: image)[0]
        #expect(abs(r.weightedCentroid.x - 10.3) < 0.005 && abs(r.weightedCentroid.y - 12.7) < 0.005)
        #expect(r.maxPosition == SIMD2(10, 13))
        #expect(r.maxIntensity == image[10, 13])
        // The unweighted centroid is the disk's, not the spot's.
        #expect(abs(r.centroid.x - 10.3) < 0.2)
    }
}
