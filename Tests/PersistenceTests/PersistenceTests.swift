import Foundation
import Testing
import PeakKit
import Filters
import Harness
import DetectorConformance
@testable import Persistence

/// Runs the detector with a fixed prominence threshold and no post-processing options.
private func detect(_ image: Image, mask: Mask? = nil, prominence: Double = 0, smooth: Double = 0, labels: Bool = false) throws -> Detection {
    try PersistenceDetector().detect(
        in: image, mask: mask, ["prominence": .real(prominence), "smooth": .real(smooth), "refine": .string("none")],
        options: .init(wantsLabels: labels))
}

private func row(_ values: [Float]) -> Image { Image(width: values.count, height: 1, pixels: values) }

@Suite struct HandComputed {
    @Test func twoPeaksInARow() throws {
        // 0 5 1 3 0: the 5 is the global maximum (prominence 5 - 0), the 3 dies at the 1.
        let d = try detect(row([0, 5, 1, 3, 0]))
        #expect(d.peaks.count == 2)
        #expect(d.peaks[0].x == 1 && d.peaks[0].y == 0 && d.peaks[0]["prominence"] == 5)
        #expect(d.peaks[1].x == 3 && d.peaks[1]["prominence"] == 2)
        #expect(d.peaks[1]["saddle_x"] == 2 && d.peaks[1]["saddle_level"] == 1)
    }

    @Test func equalPeaksAreTwoPeaks() throws {
        // Equal summits separated by a lower saddle must not lose a pair.
        let d = try detect(row([0, 4, 1, 4, 0]))
        #expect(d.peaks.map(\.x) == [1, 3])
        #expect(d.peaks.map { $0["prominence"]! } == [4, 3])
        #expect(d.peaks[1]["saddle_x"] == 2)
    }

    @Test func plateauIsOnePeakAtItsCentre() throws {
        let img = Image(width: 5, height: 3, pixels: [
            0, 0, 0, 0, 0,
            0, 7, 7, 7, 0,
            0, 0, 0, 0, 0,
        ])
        let d = try detect(img)
        #expect(d.peaks.count == 1)
        #expect(d.peaks[0].x == 2 && d.peaks[0].y == 1)
        #expect(d.peaks[0]["prominence"] == 7)
    }

    @Test func evenPlateauTakesTheLowerIndexOfTheTwoCentralPixels() throws {
        let d = try detect(row([1, 7, 7, 1]))
        #expect(d.peaks.count == 1 && d.peaks[0].x == 1)
    }

    @Test func lShapedPlateauPicksTheMemberNearestTheCentroid() throws {
        // Plateau (0,0) (1,0) (2,0) (0,1) (0,2): centroid (0.6, 0.6); (1,0) and (0,1) tie at
        // squared distance 0.52, (1,0) has the lower raster index.
        let img = Image(width: 4, height: 4, pixels: [
            9, 9, 9, 0,
            9, 0, 0, 0,
            9, 0, 0, 0,
            0, 0, 0, 0,
        ])
        let d = try detect(img)
        #expect(d.peaks.count == 1)
        #expect(d.peaks[0].x == 1 && d.peaks[0].y == 0)
    }

    @Test func diagonalNeighboursAreConnected() throws {
        // With 8-connectivity the 4 touches the 5 diagonally: one peak, not two.
        let img = Image(width: 3, height: 3, pixels: [
            5, 0, 0,
            0, 4, 0,
            0, 0, 0,
        ])
        let d = try detect(img)
        #expect(d.peaks.count == 1 && d.peaks[0].x == 0)
    }

    @Test func saddleIsTheHighestPassNotTheLowest() throws {
        // Two routes from the 6 to the 9: through the 2 (top row) or through the 4 (bottom row).
        // The 6 dies at the higher pass, 4: prominence 2.
        let img = Image(width: 5, height: 3, pixels: [
            9, 2, 2, 2, 6,
            9, 0, 0, 0, 6,
            9, 4, 4, 4, 6,
        ])
        let d = try detect(img)
        #expect(d.peaks.count == 2)
        let six = try #require(d.peaks.first { $0.value == 6 })
        #expect(six["prominence"] == 2 && six["saddle_level"] == 4)
        #expect(six["saddle_y"] == 2)
    }

    @Test func maskedWallSeparatesTwoParts() throws {
        // Without the mask, the 3 dies at the 1; with the column masked the two halves are
        // separate parts, and each highest peak is essential (value - minimum of its part).
        let img = row([0, 5, 1, 3, 2])
        var mask = Mask(width: 5, height: 1)
        mask[2, 0] = false
        let d = try detect(img, mask: mask)
        #expect(d.peaks.map(\.x) == [1, 3])
        #expect(d.peaks.map { $0["prominence"]! } == [5, 1])
        #expect(d.diagnostic("domain_components") == .integer(2))
    }

    @Test func prominenceThresholdIsStrict() throws {
        let img = row([0, 5, 1, 3, 0])
        #expect(try detect(img, prominence: 2).peaks.count == 1)
        #expect(try detect(img, prominence: 1.999).peaks.count == 2)
    }

    @Test func basinsAboveTheSaddle() throws {
        // 0 5 1 3 0.5: the 3's basin is {3} (above its saddle 1); the 5's basin is its part.
        let d = try detect(row([0, 5, 1, 3, 0.5]), labels: true)
        let labels = try #require(d.labels)
        #expect(labels.labels == [1, 1, 1, 2, 1])
    }

    @Test func negativeValuesAndNegativeZero() throws {
        let d = try detect(row([-5, -1, -3, -0.0, 0, -2]))
        // -0.0 and 0 are equal: the plateau {-0, 0} is one peak at the lower index.
        #expect(d.peaks.map(\.x) == [3, 1])
        #expect(d.peaks.map { $0["prominence"]! } == [5, 2])
    }
}

@Suite struct AgainstBruteForce {
    /// Random small images, with many ties (few levels) and without, with and without masks.
    @Test(arguments: 0..<60)
    func unionFindMatchesDefinition(seed: Int) throws {
        var rng = SeededRandom(seed: UInt64(seed))
        let w = 3 + Int(rng.next() % 7), h = 2 + Int(rng.next() % 7)
        let levels = seed % 3 == 0 ? 1000 : 2 + seed % 5
        let image = Image(width: w, height: h) { _, _ in Float(Int(rng.next() % UInt64(levels))) - 1 }
        var mask: Mask? = nil
        if seed % 2 == 1 {
            var m = Mask(width: w, height: h)
            for i in 0..<(w * h) where rng.next() % 5 == 0 { m.isValid[i] = false }
            mask = m
        }
        let expected = BruteForcePersistence.prominences(image, mask: mask)
            .filter { $0.prominence > 0 }
            .sorted { ($0.pixel) < ($1.pixel) }
        let diagram = SuperlevelPersistence.diagram(of: image, mask: mask)
        let got = diagram.pairs
            .filter { $0.persistence > 0 }
            .map { BruteForcePersistence.Entry(pixel: $0.birth, prominence: $0.persistence, saddleLevel: $0.deathLevel) }
            .sorted { $0.pixel < $1.pixel }
        #expect(got == expected, "image \(w)x\(h) levels \(levels) masked \(mask != nil)")
        // Saddle pixels are real pixels at the death level, neighbouring... at least valid.
        for pair in diagram.pairs {
            #expect(image.pixels[pair.death] == pair.deathLevel)
            if let mask { #expect(mask.isValid[pair.death] && mask.isValid[pair.birth]) }
        }
    }

    /// Basins against their definition: pixel p carries the label of the reported peak with the
    /// highest saddle among those whose {value > saddle} component contains p (distinct values,
    /// so no tie questions; the essential peak's basin is its whole part).
    @Test(arguments: 0..<80)
    func basinsMatchDefinition(seed: Int) throws {
        var rng = SeededRandom(seed: UInt64(1000 + seed))
        let w = 4 + Int(rng.next() % 6), h = 3 + Int(rng.next() % 6)
        var values = (0..<(w * h)).map { Float($0) }
        values.shuffle(using: &rng)
        let image = Image(width: w, height: h, pixels: values)
        let d = try detect(image, prominence: 3, labels: true)
        let labels = try #require(d.labels)
        func component(from start: Int, above level: Float) -> Set<Int> {
            var seen: Set<Int> = [start], stack = [start]
            while let p = stack.popLast() {
                for q in BruteForcePersistence.neighbours(p, w, h) where values[q] > level && !seen.contains(q) {
                    seen.insert(q); stack.append(q)
                }
            }
            return seen
        }
        var expected = [Int32](repeating: 0, count: w * h)
        var bestSaddle = [Float](repeating: -.infinity, count: w * h)
        for (k, peak) in d.peaks.enumerated() {
            let start = Int(peak.y) * w + Int(peak.x)
            let saddle = Float(peak["saddle_level"]!)
            let isEssential = peak["saddle_level"]! == Double(values.min()!)
            let members: Set<Int> = isEssential ? Set(0..<(w * h)) : component(from: start, above: saddle)
            for p in members where saddle > bestSaddle[p] {
                bestSaddle[p] = saddle
                expected[p] = Int32(k + 1)
            }
        }
        #expect(labels.labels == expected)
    }

    @Test func radixOrderMatchesComparisonSort() {
        var rng = SeededRandom(seed: 99)
        var values: [Float] = (0..<5000).map { _ in Float(rng.normal() * 1e3) }
        values += [0, -0.0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1, 1, 1, .leastNonzeroMagnitude, -.leastNonzeroMagnitude]
        let order = values.withUnsafeBufferPointer { PixelOrder.sortedDescending($0, valid: nil) }.map { Int($0) }
        let reference = values.indices.sorted { a, b in
            let va = values[a] + 0, vb = values[b] + 0
            return va > vb || (va == vb && a < b)
        }
        #expect(order == reference)
    }

    /// The same on an image large enough for the sort to be cut into chunks (6 of them here),
    /// with a mask (the valid pixels of each chunk are written after those of the chunks
    /// before it) and many ties.
    @Test func chunkedRadixOrderMatchesComparisonSort() {
        var rng = SeededRandom(seed: 98)
        let n = 200_003
        let values: [Float] = (0..<n).map { _ in Float(Int(rng.uniform(-500, 500))) / 4 }
        let valid: [Bool] = (0..<n).map { _ in rng.uniform(0, 1) < 0.9 }
        #expect(Parallel.chunkCount(n) == 6)
        let order = values.withUnsafeBufferPointer { v in valid.withUnsafeBufferPointer { PixelOrder.sortedDescending(v, valid: $0) } }
        let reference = values.indices.filter { valid[$0] }.sorted { a, b in values[a] > values[b] || (values[a] == values[b] && a < b) }
        #expect(order.map { Int($0) } == reference)
    }

    /// The LSD sort (images up to 2^24 pixels) and the in-place MSD sort (larger ones) give the
    /// same order, on data with many ties (small integers: the index breaks them) and without.
    @Test func bothRadixSortsGiveTheSameOrder() {
        var rng = SeededRandom(seed: 7)
        for ties in [false, true] {
            let values: [Float] = (0..<70_000).map { _ in ties ? Float(Int(rng.uniform(-4, 4))) : Float(rng.normal() * 50) }
            let n = values.count
            func words() -> UnsafeMutablePointer<UInt64> {
                let w = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
                for i in 0..<n { w[i] = UInt64(PixelOrder.descendingKey(values[i])) << 32 | UInt64(i) }
                return w
            }
            let a = words(), b = words()
            defer { a.deallocate(); b.deallocate() }
            PixelOrder.sortByKeyLSD(a, n)
            PixelOrder.sortInPlace(b, n, shift: 56)
            #expect((0..<n).allSatisfy { a[$0] == b[$0] }, "ties \(ties)")
            #expect((1..<n).allSatisfy { a[$0 - 1] < a[$0] })
        }
    }
}

@Suite struct SyntheticSpots {
    /// Spots 8 noise sigma high on a flat background with Gaussian noise: the default (auto)
    /// threshold finds every spot, within 1 px, and nothing else.
    @Test func defaultThresholdFindsSpotsAndNoNoise() throws {
        var rng = SeededRandom(seed: 11)
        var image = Image(width: 256, height: 256, repeating: 100)
        var spots: [Spot] = []
        for gy in 0..<5 { for gx in 0..<5 {
            spots.append(Spot(x: 25 + Double(gx) * 50 + rng.uniform(-0.5, 0.5), y: 25 + Double(gy) * 50 + rng.uniform(-0.5, 0.5),
                              amplitude: 40, sigma: 2))
        } }
        SpotRenderer.add(spots, to: &image)
        SpotRenderer.addGaussianNoise(&image, sigma: 2, rng: &rng)
        for smooth in [ParameterValue.real(0), .auto] {
            let d = try PersistenceDetector().detect(in: image, ["smooth": smooth])
            guard case .number(let sigma) = d.diagnostic("noise_sigma") else { Issue.record("no noise_sigma"); return }
            #expect(abs(sigma - 2) < 0.15, "noise estimate \(sigma)")
            // (With noise_factor 5 and smooth=auto this scene had 2 noise peaks; 6 has none.)
            #expect(d.peaks.count == spots.count, "smooth \(smooth): \(d.peaks.count) peaks")
            for s in spots {
                #expect(d.peaks.contains { hypot($0.x - s.x, $0.y - s.y) <= 1.5 }, "smooth \(smooth): missed \(s)")
            }
        }
    }

    /// A round detector's dead corners (exactly 0 outside a disc covering 40% of the frame):
    /// the noise is measured on the live disc, so its spots are found and its noise is not
    /// (with the dead pixels among the noise samples the MAD is 0 and every noise maximum of the
    /// disc passed: thousands of false peaks on the corner crops of the Laue image).
    @Test func deadDetectorAreasAreNotNoiseSamples() throws {
        var rng = SeededRandom(seed: 23)
        let w = 256, cx = 0.0, cy = 0.0, r = 190.0
        var image = Image(width: w, height: w, repeating: 50)
        var spots: [Spot] = []
        for k in 0..<12 {
            let a = Double(k) * 0.13, d = 40 + Double(k) * 9
            spots.append(Spot(x: cx + d * cos(a) + 20, y: cy + d * sin(a) + 20, amplitude: 40, sigma: 1.5))
        }
        SpotRenderer.add(spots, to: &image)
        SpotRenderer.addGaussianNoise(&image, sigma: 2, rng: &rng)
        var live = 0
        for y in 0..<w { for x in 0..<w {
            if hypot(Double(x) - cx, Double(y) - cy) > r { image[x, y] = 0 } else { live += 1 }
        } }
        #expect(Double(live) / Double(w * w) < 0.45)
        let d = try PersistenceDetector().detect(in: image)
        for s in spots { #expect(d.peaks.contains { hypot($0.x - s.x, $0.y - s.y) <= 1.5 }, "missed \(s)") }
        let others = d.peaks.filter { p in !spots.contains { hypot(p.x - $0.x, p.y - $0.y) <= 1.5 } }
        #expect(others.count <= 1, "\(others.count) false peaks: \(others.prefix(5).map { ($0.x, $0.y, hypot($0.x - cx, $0.y - cy)) })")
    }

    /// A round detector whose circle cuts the frame's edge leaves a dead strip only 3 rows thick
    /// there, which holds no whole 5 x 5 constant patch; with a bright rim just inside the dead
    /// border (as on the held-out Laue tiles' MarCCD frame) its step made false maxima along it.
    /// The strip is dead now (patches are clipped at the frame's edge,
    /// `NoiseEstimate.constantAreas`): every spot is found and nothing within 4 px of the dead
    /// area. Without the clipped patches this scene gives a false peak on the strip's rim.
    @Test func aDeadStripAlongTheFrameIsNotData() throws {
        var rng = SeededRandom(seed: 61)
        let w = 192, cx = 96.0, cy = 150.0, r = 150.0
        var image = Image(width: w, height: w, repeating: 40)
        var spots: [Spot] = []
        for k in 0..<12 {
            spots.append(Spot(x: 40 + Double(k % 4) * 36 + 0.3, y: 50 + Double(k / 4) * 40 + 0.6, amplitude: 300, sigma: 0.7))
        }
        SpotRenderer.add(spots, to: &image)
        SpotRenderer.addGaussianNoise(&image, sigma: 2, rng: &rng)
        var deadDistance = [Double](repeating: .infinity, count: w * w)
        for y in 0..<w { for x in 0..<w {
            let inside = r - hypot(Double(x) - cx, Double(y) - cy)  // px inside the circle
            if inside < 0 || y < 3 { image[x, y] = 0; continue }
            let edge = min(inside, Double(y - 2))
            deadDistance[y * w + x] = edge
            if edge <= 2.5 { image[x, y] += 15 }  // the bright rim
        } }
        let d = try PersistenceDetector().detect(in: image)
        for s in spots { #expect(d.peaks.contains { hypot($0.x - s.x, $0.y - s.y) <= 1.5 }, "missed \(s)") }
        let rim = d.peaks.filter { deadDistance[Int($0.y.rounded()) * w + Int($0.x.rounded())] <= 4 }
        #expect(rim.isEmpty, "\(rim.count) peaks on the rim: \(rim.prefix(5).map { ($0.x, $0.y) })")
    }

    /// Extended objects covering much of the field (like fluorescence nuclei), bright and faint,
    /// in white noise: the band-passed image is nowhere pure noise (objects and their negative
    /// surrounds everywhere), so its MAD (band_noise=mad) is many times the noise and the fainter
    /// objects are lost. The default band_noise=auto sees white pixel noise resolved by the data
    /// and takes the pixel noise times the filter's gain, and every object is found. The same
    /// scene with correlated noise keeps the MAD (the propagation would be several times too low
    /// there) and gives no noise peaks; so does the scene rounded to whole numbers with noise of
    /// 0.6 steps (an 8-bit export at the rounding floor), while at 3 steps it is propagated.
    @Test func denseObjectsInWhiteNoiseUseThePropagatedNoise() throws {
        var rng = SeededRandom(seed: 41)
        // 64 objects (sigma 5 px) 30 px apart, 10 px or more inside the frame, amplitudes log-uniform in [6, 150] (3-75 noise
        // sigmas): the band-passed image's MAD is about 4, 35x the true noise after the filter.
        var objects: [Spot] = []
        for gy in 0..<8 { for gx in 0..<8 {
            objects.append(Spot(x: 16 + Double(gx) * 30 + rng.uniform(-3, 3) + (gy % 2 == 0 ? 0 : 8),
                                y: 20 + Double(gy) * 30 + rng.uniform(-3, 3),
                                amplitude: exp(rng.uniform(log(6), log(150))), sigma: 5))
        } }
        func scene(noise sigma: Double, correlated: Bool = false, rounded: Bool = false) -> Image {
            var image = Image(width: 256, height: 256, repeating: 100)
            SpotRenderer.add(objects, to: &image)
            var noise = Image(width: 256, height: 256)
            SpotRenderer.addGaussianNoise(&noise, sigma: sigma, rng: &rng)
            if correlated { noise = GaussianFilter.apply(noise, sigma: 1) }
            for i in 0..<image.count { image.pixels[i] += noise.pixels[i] }
            if rounded { for i in 0..<image.count { image.pixels[i].round() } }
            return image
        }
        func score(_ d: Detection) -> (missed: Int, extra: Int) {
            (objects.filter { o in !d.peaks.contains { hypot($0.x - o.x, $0.y - o.y) <= 4 } }.count,
             d.peaks.filter { p in !objects.contains { hypot(p.x - $0.x, p.y - $0.y) <= 4 } }.count)
        }
        let white = scene(noise: 2)
        let found = try PersistenceDetector().detect(in: white)
        #expect(found.diagnostic("noise_sigma_filtered_rule") == .string("white pixel noise x band-pass gain"))
        #expect(found.diagnostic("band_noise_rule") == .string("auto: white pixel noise, resolved (continuous values): propagated"))
        let (missed, extra) = score(found)
        #expect(missed <= 1 && extra <= 1, "white: \(missed) of \(objects.count) missed, \(extra) extra")
        // The MAD on the same image loses the fainter objects.
        let byMAD = try PersistenceDetector().detect(in: white, ["band_noise": .string("mad")])
        #expect(score(byMAD).missed >= 15, "the MAD threshold missed only \(score(byMAD).missed)")

        let correlated = try PersistenceDetector().detect(in: scene(noise: 6, correlated: true))
        #expect(correlated.diagnostic("noise_sigma_filtered_rule") == .string("band-passed image (MAD)"))
        #expect(correlated.diagnostic("band_noise_rule") == .string("auto: pixel noise not white: mad"))
        #expect(score(correlated).extra <= 1, "correlated: \(score(correlated).extra) noise peaks")

        let floor = try PersistenceDetector().detect(in: scene(noise: 0.6, rounded: true))
        #expect(floor.diagnostic("noise_quantisation_step") == .number(1))
        #expect(floor.diagnostic("noise_sigma_filtered_rule") == .string("band-passed image (MAD)"))
        let resolved = try PersistenceDetector().detect(in: scene(noise: 3, rounded: true))
        #expect(resolved.diagnostic("noise_sigma_filtered_rule") == .string("white pixel noise x band-pass gain"))
        #expect(score(resolved).missed <= 1 && score(resolved).extra <= 1, "rounded, 3 steps: \(score(resolved))")
    }

    /// A square lattice of atomic columns (16 px apart, sigma 2.5 px, 10 high) in white noise of
    /// sd 3: periodicity about 0.35. Taken as a lattice (threshold 0.25), the noise is measured
    /// across the lattice and every column is found; at the old threshold 0.5 the noise was the
    /// lattice's contrast and one column was reported. At sd 4 (periodicity about 0.24) no
    /// lattice is recognised; the noise is white, so band_noise=auto propagates the pixel noise
    /// and every column is found. With band_noise=mad (as for correlated noise) the cliff remains
    /// (known issue: the MAD of dense content).
    @Test(arguments: [3.0, 4.0])
    func noisyLatticeIsALattice(noise: Double) throws {
        var rng = SeededRandom(seed: 17)
        var image = Image(width: 256, height: 256, repeating: 100)
        var columns: [Spot] = []
        for gy in Swift.stride(from: 8, to: 256, by: 16) { for gx in Swift.stride(from: 8, to: 256, by: 16) {
            columns.append(Spot(x: Double(gx), y: Double(gy), amplitude: 10, sigma: 2.5))
        } }
        SpotRenderer.add(columns, to: &image)
        SpotRenderer.addGaussianNoise(&image, sigma: noise, rng: &rng)
        let d = try PersistenceDetector().detect(in: image)
        guard case .number(let periodicity) = d.diagnostic("periodicity") else { Issue.record("no periodicity"); return }
        let found = columns.filter { c in d.peaks.contains { hypot($0.x - c.x, $0.y - c.y) <= 2 } }.count
        if noise == 3 {
            #expect(periodicity > 0.3 && periodicity < 0.45, "periodicity \(periodicity)")
            #expect(d.diagnostic("lattice_vector") != nil)
            #expect(found == columns.count && d.peaks.count == columns.count, "found \(found) of \(columns.count), \(d.peaks.count) peaks")
            // A given smooth (--spot-size) skips the scale measurement, not the lattice.
            let given = try PersistenceDetector().detect(in: image, ["smooth": .real(2.5)])
            #expect(given.diagnostic("lattice_vector") == d.diagnostic("lattice_vector"))
            #expect(given.diagnostic("periodicity") == d.diagnostic("periodicity"))
            #expect(given.diagnostic("smooth_rule") == .string("given"))
        } else {
            #expect(periodicity < 0.25, "periodicity \(periodicity)")
            #expect(d.diagnostic("noise_sigma_filtered_rule") == .string("white pixel noise x band-pass gain"))
            #expect(found >= columns.count - 2 && d.peaks.count <= columns.count + 2, "found \(found) of \(columns.count), \(d.peaks.count) peaks")
            let byMAD = try PersistenceDetector().detect(in: image, ["band_noise": .string("mad")])
            let foundByMAD = columns.filter { c in byMAD.peaks.contains { hypot($0.x - c.x, $0.y - c.y) <= 2 } }.count
            withKnownIssue("band_noise=mad, a lattice below the periodicity threshold: its contrast is taken for noise") {
                #expect(foundByMAD >= columns.count - 2, "found \(foundByMAD) of \(columns.count)")
            }
        }
    }

    @Test func smoothingReducesNoiseMaxima() throws {
        var rng = SeededRandom(seed: 5)
        var image = Image(width: 128, height: 128)
        SpotRenderer.addGaussianNoise(&image, sigma: 1, rng: &rng)
        let raw = try detect(image, prominence: 0).peaks.count
        let smoothed = try detect(image, prominence: 0, smooth: 2).peaks.count
        #expect(smoothed * 4 < raw, "raw \(raw), smoothed \(smoothed)")
        // With the automatic threshold pure noise gives (almost) nothing.
        #expect(try PersistenceDetector().detect(in: image).peaks.count <= 1)
    }
}

@Test func persistenceConformance() {
    let failures = DetectorConformance.failures(of: PersistenceDetector())
    #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
}

@Suite struct SampleGroundTruth {
    /// The bundled sample (samples/lattice.png) against the truth it was generated from: every
    /// Bragg spot is found within 1 px and every detection is a spot or the saturated beam.
    @Test(arguments: ["gaussian", "poisson"])
    func everyBraggSpotAndNothingElse(noise: String) throws {
        let sample = SampleImages.lattice()
        let d = try PersistenceDetector().detect(in: sample.image, ["noise": .string(noise)])
        let missed = sample.spots.filter { s in !d.peaks.contains { hypot($0.x - s.x, $0.y - s.y) <= 1.0 } }
        let falsePeaks = d.peaks.filter { p in
            hypot(p.x - sample.center.x, p.y - sample.center.y) > 3 && !sample.spots.contains { hypot(p.x - $0.x, p.y - $0.y) <= 1.0 }
        }
        if noise == "gaussian" {
            // Known regression of the measured defaults with the Gaussian model (the wrong one for
            // these counts; the Poisson model is exact; noise=auto also takes gaussian here, the
            // variance not following the level). Every spot is found (the white, resolved pixel
            // noise is propagated: band_noise=auto), with 2 duplicates of the saturated beam and
            // 2 false peaks, one on the beam's halo (35 px out, where the shot noise climbs
            // faster than LocalNoise's 32 px tiles follow) and one 6 px from the right edge.
            // (With band_noise=mad, until session 9: 2 faint spots missed instead.)
            withKnownIssue("noise=gaussian on the sample: 2 false peaks, 2 duplicates of the beam") {
                #expect(falsePeaks.isEmpty, "gaussian: false peaks at \(falsePeaks.map { ($0.x, $0.y) })")
                #expect(d.peaks.count == sample.spots.count + 1)
            }
            #expect(missed.isEmpty, "gaussian: missed \(missed.map { ($0.x, $0.y) })")
            #expect(falsePeaks.count <= 2, "gaussian: false peaks at \(falsePeaks.map { ($0.x, $0.y) })")
        } else {
            #expect(falsePeaks.isEmpty, "\(noise): false peaks at \(falsePeaks.map { ($0.x, $0.y) })")
            #expect(missed.isEmpty, "\(noise): missed \(missed.map { ($0.x, $0.y) })")
            #expect(d.peaks.count == sample.spots.count + 1)
        }
    }
}

@Suite struct PoissonNoiseModel {
    /// Counting noise on a bright smooth hill plus faint spots on the dark flank: the global
    /// (Gaussian) threshold is set by the dark background and accepts noise maxima on the
    /// bright hill; the Anscombe test accepts the spots and rejects the hill's noise.
    @Test func brightRegionsDoNotBreedFalsePeaks() throws {
        var rng = SeededRandom(seed: 17)
        var mean = Image(width: 200, height: 200) { x, y in
            let dx = Double(x) - 60, dy = Double(y) - 100
            return Float(20 + 4000 * exp(-(dx * dx + dy * dy) / (2 * 30 * 30)))
        }
        let spots = [Spot(x: 150, y: 40, amplitude: 150, sigma: 1.5), Spot(x: 160, y: 160, amplitude: 150, sigma: 1.5),
                     Spot(x: 185, y: 100, amplitude: 150, sigma: 1.5)]
        SpotRenderer.add(spots, to: &mean)
        var image = mean
        SpotRenderer.applyPoissonNoise(&image, rng: &rng)

        let gaussian = try PersistenceDetector().detect(in: image, ["noise": .string("gaussian")])
        let poisson = try PersistenceDetector().detect(in: image, ["noise": .string("poisson")])
        // The default (noise=auto) recognises the counts and chooses the Poisson model.
        let auto = try PersistenceDetector().detect(in: image)
        #expect(auto.diagnostic("noise_model") == .string("poisson"), "\(String(describing: auto.diagnostic("noise_model_rule")))")
        #expect(auto.peaks == poisson.peaks)
        func isTrue(_ p: Peak) -> Bool { spots.contains { hypot(p.x - $0.x, p.y - $0.y) <= 1.5 } || hypot(p.x - 60, p.y - 100) <= 10 }  // the hill (sigma 30) has a flat, noisy top
        // With the Gaussian model and the band-passed image's MAD, the global threshold is set
        // by the dark background (5 false peaks at noise_factor 6, more than 5 at 5). Measured
        // with the log-parabola positions: the fit's check (refine=fit drops summits whose fit
        // runs away) removes 3 of those 5, which is not the threshold's doing.
        let gaussianMAD = try PersistenceDetector().detect(in: image, ["noise": .string("gaussian"), "band_noise": .string("mad"), "refine": .string("gaussian")])
        #expect(gaussianMAD.peaks.filter { !isTrue($0) }.count >= 3, "the Gaussian model with the MAD should be fooled here")
        // With band_noise=auto the counts' noise is white and resolved, so it is propagated and
        // scaled by the local pixel noise at each summit, which follows the hill's shot noise.
        #expect(gaussian.diagnostic("noise_sigma_filtered_rule") == .string("white pixel noise x band-pass gain"))
        #expect(gaussian.peaks.filter { !isTrue($0) }.isEmpty, "gaussian, local noise: \(gaussian.peaks.filter { !isTrue($0) }.map { ($0.x, $0.y) })")
        #expect(poisson.peaks.filter { !isTrue($0) }.isEmpty, "false peaks: \(poisson.peaks.filter { !isTrue($0) }.map { ($0.x, $0.y) })")
        for s in spots { #expect(poisson.peaks.contains { hypot($0.x - s.x, $0.y - s.y) <= 1.5 }) }
        #expect(poisson.diagnostic("noise_model") == .string("poisson"))
    }
}

/// `noise = auto` (CountingData): Poisson only for counts whose variance follows the mean.
@Suite struct AutomaticNoiseModel {
    /// A level that spans a factor 20 across the image (a gradient), plus `spots`.
    static func levels(_ x: Int, _ y: Int) -> Double { 5 + 95 * Double(x) / 199 }

    @Test func poissonCountsArePoisson() {
        var rng = SeededRandom(seed: 3)
        var image = Image(width: 200, height: 200) { x, y in Float(Self.levels(x, y)) }
        SpotRenderer.applyPoissonNoise(&image, rng: &rng)
        let v = CountingData.test(image, mask: Mask(width: 200, height: 200))
        #expect(v.isCounting, "\(v.rule)")
        #expect(abs((v.dispersion ?? 0) - 1) < 0.15)
    }

    @Test func countsWithAGainAreStillPoisson() {
        var rng = SeededRandom(seed: 4)
        var image = Image(width: 200, height: 200) { x, y in Float(Self.levels(x, y)) }
        SpotRenderer.applyPoissonNoise(&image, rng: &rng)
        for i in 0..<image.count { image.pixels[i] *= 1.5 }  // whole numbers only where even: round
        for i in 0..<image.count { image.pixels[i] = image.pixels[i].rounded() }
        let v = CountingData.test(image, mask: Mask(width: 200, height: 200))
        #expect(v.isCounting, "\(v.rule)")
    }

    @Test func anOffsetOrReadNoiseOrFloatsAreGaussian() {
        var rng = SeededRandom(seed: 5)
        // Counts on a camera offset of 500: variance / mean about 0.1.
        var offset = Image(width: 200, height: 200) { x, y in Float(Self.levels(x, y)) }
        SpotRenderer.applyPoissonNoise(&offset, rng: &rng)
        for i in 0..<offset.count { offset.pixels[i] += 500 }
        #expect(!CountingData.test(offset, mask: Mask(width: 200, height: 200)).isCounting)
        // Read noise whose variance equals the mean at one level (about 30) but not elsewhere:
        // D is about 1, the slope about 0.
        var read = Image(width: 200, height: 200) { x, y in Float(Self.levels(x, y)) }
        SpotRenderer.addGaussianNoise(&read, sigma: 30.0.squareRoot(), rng: &rng)
        for i in 0..<read.count { read.pixels[i] = max(0, read.pixels[i].rounded()) }
        let r = CountingData.test(read, mask: Mask(width: 200, height: 200))
        #expect(!r.isCounting, "\(r.rule)")
        #expect((CountingData.minDispersion...CountingData.maxDispersion).contains(r.dispersion ?? 0), "the ratio alone would pass: \(r.rule)")
        // Poisson counts rescaled to non-whole numbers.
        var scaled = Image(width: 200, height: 200) { x, y in Float(Self.levels(x, y)) }
        SpotRenderer.applyPoissonNoise(&scaled, rng: &rng)
        for i in 0..<scaled.count { scaled.pixels[i] *= 0.37 }
        #expect(!CountingData.test(scaled, mask: Mask(width: 200, height: 200)).isCounting)
        // A flat level (no span): the models decide alike; gaussian.
        var flat = Image(width: 200, height: 200, repeating: 40)
        SpotRenderer.applyPoissonNoise(&flat, rng: &rng)
        #expect(!CountingData.test(flat, mask: Mask(width: 200, height: 200)).isCounting)
    }

    @Test func theChoiceIsReported() throws {
        var rng = SeededRandom(seed: 6)
        var image = Image(width: 128, height: 128) { x, y in Float(5 + 60 * Double(x) / 127) }
        SpotRenderer.applyPoissonNoise(&image, rng: &rng)
        let d = try PersistenceDetector().detect(in: image)
        #expect(d.diagnostic("noise_model") == .string("poisson"))
        if case .string(let rule)? = d.diagnostic("noise_model_rule") { #expect(rule.hasPrefix("auto: counts")) } else { Issue.record("no rule") }
        let g = try PersistenceDetector().detect(in: image, ["noise": .string("gaussian")])
        #expect(g.diagnostic("noise_model_rule") == .string("given"))
    }
}

/// The table behind the default noise_factor (docs/algorithms/persistence.md): how many maxima of
/// unit white Gaussian noise (1024 x 1024) have a prominence above k noise sigmas.
@Test func noiseMaximaProminences() throws {
    var rng = SeededRandom(seed: 1)
    var image = Image(width: 1024, height: 1024)
    SpotRenderer.addGaussianNoise(&image, sigma: 1, rng: &rng)
    for smooth in [0.0, 1.0, 2.0] {
        let filtered = smooth > 0 ? GaussianFilter.apply(image, sigma: smooth) : image
        let sigma = NoiseEstimate.sigma(image) * (smooth > 0 ? GaussianFilter.noiseGain(sigma: smooth) : 1)
        let pairs = SuperlevelPersistence.diagram(of: filtered).pairs.filter { !$0.isEssential }
        let above = [3.0, 4, 4.5, 5, 6].map { k in pairs.filter { Double($0.persistence) > k * sigma }.count }
        print("smooth \(smooth): \(pairs.count) maxima; above 3, 4, 4.5, 5, 6 sigma: \(above)")
        #expect(above[0] > 100, "noise should make many 3-sigma peaks")
        #expect(above[3] <= 2, "the default 5 sigma should pass at most a couple of noise peaks per megapixel")
        #expect(above[4] == 0)
    }
}

/// `prominenceIsFinalFilter` lets `peaks evaluate` cut one run at each sweep threshold instead
/// of rerunning the detector. The promise must hold exactly: the same sweep as with reruns.
@Suite struct SweepShortcut {
    /// The persistence detector without the shortcut (the protocol's default: rerun).
    struct Rerun: PeakDetector {
        let inner = PersistenceDetector()
        var name: String { inner.name }
        var summary: String { inner.summary }
        func candidates(in image: Image, mask: Mask, settings: PersistenceDetector.Settings, options: DetectionOptions) throws -> Detection {
            try inner.candidates(in: image, mask: mask, settings: settings, options: options)
        }
    }

    @Test func cutRunsGiveTheSameSweepAsReruns() throws {
        let cases = try [SyntheticClass.noisy, .crowded, .symmetric].flatMap { c in
            try (0..<2).map { try EvaluationCase.generated(c, index: $0, size: 96, seed: 5) }
        }
        let settings = EvaluationSettings(tolerance: 3, sweepSteps: 8, threads: 1)
        let cut = try Evaluation.run(cases: cases, detectors: [PersistenceDetector()], settings: settings)
        let rerun = try Evaluation.run(cases: cases, detectors: [Rerun()], settings: settings)
        #expect(cut.sweeps.count == rerun.sweeps.count && !cut.sweeps.isEmpty)
        for (a, b) in zip(cut.sweeps, rerun.sweeps) {
            #expect(a.points == b.points, "\(a.className): the cut sweep differs from reruns")
        }
        // And the detector-level promise directly, with min_dist on.
        let image = try EvaluationCase.generated(.crowded, index: 0, size: 96, seed: 9).image
        let low = try PersistenceDetector().detect(in: image, ["prominence": .real(1), "min_dist": .real(4)]).peaks
        for t in [5.0, 20, 80] {
            let high = try PersistenceDetector().detect(in: image, ["prominence": .real(t), "min_dist": .real(4)]).peaks
            #expect(high == low.filter { $0.strength > t }, "threshold \(t)")
        }
        #expect(PersistenceDetector().prominenceIsFinalFilter(try PersistenceDetector().resolveParameters(["prominence": .real(3)])))
        #expect(!PersistenceDetector().prominenceIsFinalFilter(try PersistenceDetector().resolveParameters([:])))
    }
}

/// refine=fit (`SpotPositionFit`): positions from a Gaussian fit of the image itself.
@Suite struct SpotPositionFitTests {
    /// 64 isolated spots (sigma 1.5) at random subpixel centres on a background of 40 with a
    /// gentle slope, white noise of sd 2 (peak SNR 15): truth known exactly.
    static func scene(seed: UInt64) -> (Image, [Spot]) {
        var rng = SeededRandom(seed: seed)
        var image = Image(width: 256, height: 256) { x, y in 40 + 0.02 * Float(x) + 0.01 * Float(y) }
        var spots: [Spot] = []
        for gy in 0..<8 {
            for gx in 0..<8 {
                spots.append(Spot(x: 16 + 32 * Double(gx) + rng.uniform(-4, 4), y: 16 + 32 * Double(gy) + rng.uniform(-4, 4), amplitude: 30, sigma: 1.5))
            }
        }
        SpotRenderer.add(spots, to: &image)
        SpotRenderer.addGaussianNoise(&image, sigma: 2, rng: &rng)
        return (image, spots)
    }

    static func rmse(_ peaks: [Peak], _ spots: [Spot]) -> (Double, Int) {
        var sum = 0.0, n = 0
        for s in spots {
            guard let p = peaks.min(by: { hypot($0.x - s.x, $0.y - s.y) < hypot($1.x - s.x, $1.y - s.y) }), hypot(p.x - s.x, p.y - s.y) < 1.5 else { continue }
            sum += (p.x - s.x) * (p.x - s.x) + (p.y - s.y) * (p.y - s.y); n += 1
        }
        return ((sum / Double(max(n, 1))).squareRoot(), n)
    }

    /// Against the exact truth, on isolated Gaussian spots in white noise, both estimators sit at
    /// the noise limit: the Cramer-Rao bound of one coordinate is about
    /// sigma_n / (A sqrt(pi / 2)) = 0.053 px here (a Gaussian of peak A on white noise of sd
    /// sigma_n, the other unknowns ignored), 0.075 px for the 2-D distance. The fit must come
    /// within 1.25 x of it, be no worse than the log-parabola by more than 10 %, and fit every
    /// spot. (Measured: fit 0.073 / 0.088 / 0.076 px, log-parabola 0.077 / 0.088 / 0.076 px. The
    /// fit's gains are against Gaussian-fit truths and on crowded or faint spots:
    /// docs/algorithms/persistence.md, "Positions".)
    @Test(arguments: [1, 2, 3] as [UInt64])
    func fitReachesTheNoiseLimit(seed: UInt64) throws {
        let (image, spots) = Self.scene(seed: seed)
        let fit = try PersistenceDetector().detect(in: image, [:])
        let parabola = try PersistenceDetector().detect(in: image, ["refine": .string("gaussian")])
        let (a, na) = Self.rmse(fit.peaks, spots), (b, nb) = Self.rmse(parabola.peaks, spots)
        let bound = 2.0.squareRoot() * 2 / (30 * (Double.pi / 2).squareRoot())
        print("seed \(seed): refine=fit RMSE \(a) px (\(na) spots), gaussian \(b) px (\(nb)), bound \(bound)")
        #expect(na == 64 && nb == 64)
        #expect(fit.diagnostic("fitted") == .integer(64))
        #expect(a < 1.25 * bound, "fit \(a) vs bound \(bound)")
        #expect(a < 1.1 * b, "fit \(a) vs log-parabola \(b)")
    }

    /// The acceptance rules: a start on a spot is fitted (to within 0.1 px of its centre); a
    /// start on flat noise is not (no bright Gaussian of a plausible width there), and neither
    /// is a start more than max(1, s) px from any spot.
    @Test func fitsAreKeptOnlyOnSpots() {
        let (image, spots) = Self.scene(seed: 4)
        let mask = Mask(width: 256, height: 256)
        let s = spots[27]
        let starts = [(x: s.x + 0.4, y: s.y - 0.3), (x: 32.0, y: 32.0), (x: s.x + 5, y: s.y)]
        let r = SpotPositionFit.refine(starts, in: image, mask: mask, sigma: 1.5)
        let first = r.positions[0]
        #expect(first.map { hypot($0.x - s.x, $0.y - s.y) < 0.1 } == true, "\(String(describing: first)) vs \(s)")
        #expect(r.positions[1] == nil && r.positions[2] == nil, "\(r.positions)")
    }
}

/// refine=fit never loses a spot for the sake of its position: a fit whose centre lands beyond
/// the frame or on a masked pixel is not kept (the shared post-processing would drop the peak).
@Suite struct SpotPositionFitAtEdges {
    @Test func spotsCentredJustOutsideTheFrameOrTheMaskAreKept() throws {
        var image = Image(width: 96, height: 64, repeating: 20)
        // One spot centred 0.7 px beyond the left edge, one 0.4 px from a masked block's edge,
        // and two ordinary ones.
        let spots = [Spot(x: -0.7, y: 30, amplitude: 80, sigma: 1.6), Spot(x: 60.6, y: 30, amplitude: 80, sigma: 1.6),
                     Spot(x: 30.2, y: 15.4, amplitude: 80, sigma: 1.6), Spot(x: 30.7, y: 48.1, amplitude: 80, sigma: 1.6)]
        SpotRenderer.add(spots, to: &image)
        var rng = SeededRandom(seed: 9)
        SpotRenderer.addGaussianNoise(&image, sigma: 1, rng: &rng)
        var mask = Mask(width: 96, height: 64)
        for y in 0..<64 { for x in 61..<96 { mask[x, y] = false } }
        let d = try PersistenceDetector().detect(in: image, mask: mask, [:])
        for s in spots {
            #expect(d.peaks.contains { hypot($0.x - s.x, $0.y - s.y) < 1.5 }, "spot at (\(s.x), \(s.y)) lost: \(d.peaks.map { ($0.x, $0.y) })")
        }
        // The two interior spots are fitted; the fit of the other two landed outside (kept at the
        // log-parabola position, fitted = 0).
        for p in d.peaks { #expect(p.pixel.x >= 0 && p.pixel.x < 96 && mask[p.pixel.x, p.pixel.y]) }
    }

    /// Without smoothing the positions are taken on the image itself, whose masked pixels hold
    /// no data (a hot pixel, a beam stop's values): a summit next to one is refined only along
    /// the axis whose two neighbours are valid. Before, a masked neighbour entered the
    /// log-parabola: a hot one (5000) made it fail on both axes (y whole, 0.4 px off), a
    /// moderate one (95) biased x.
    @Test func maskedNeighboursAreNotUsedWithoutSmoothing() throws {
        for hot: Float in [5000, 95] {
            var image = Image(width: 40, height: 30, repeating: 10)
            SpotRenderer.add([Spot(x: 20.3, y: 15.4, amplitude: 100, sigma: 1.5)], to: &image)
            image[21, 15] = hot
            var mask = Mask(width: 40, height: 30)
            mask[21, 15] = false
            let d = try PersistenceDetector().detect(in: image, mask: mask, ["smooth": .real(0), "prominence": .real(20), "refine": .string("gaussian")])
            let p = try #require(d.peaks.first { abs($0.x - 20.3) < 1 && abs($0.y - 15.4) < 1 }, "hot \(hot): \(d.peaks.map { ($0.x, $0.y) })")
            #expect(p.x == 20, "hot \(hot): x \(p.x) used the masked neighbour")
            #expect(abs(p.y - 15.4) < 0.05, "hot \(hot): y \(p.y)")
        }
    }

    /// A spot centred beyond the frame has its summit on the outermost row or column, where the
    /// 3x3 log-parabola cannot run: the position is refined along the edge (3 points there) and
    /// stays on the edge pixel across it. One spot per side, 0.6-0.8 px outside, at subpixel
    /// offsets along the edge; with refine=fit (whose fits land outside and are not kept) and
    /// with refine=gaussian. Before the along-edge refinement the along-edge coordinates were
    /// whole numbers, 0.3-0.45 px off.
    @Test func summitsOnTheEdgeAreRefinedAlongIt() throws {
        let (w, h) = (80, 60)
        var image = Image(width: w, height: h, repeating: 20)
        let spots = [Spot(x: -0.7, y: 20.35, amplitude: 80, sigma: 1.6), Spot(x: 79.6, y: 41.6, amplitude: 80, sigma: 1.6),
                     Spot(x: 30.4, y: -0.8, amplitude: 80, sigma: 1.6), Spot(x: 52.55, y: 59.7, amplitude: 80, sigma: 1.6)]
        SpotRenderer.add(spots, to: &image)
        var rng = SeededRandom(seed: 11)
        SpotRenderer.addGaussianNoise(&image, sigma: 0.5, rng: &rng)
        for refine in ["fit", "gaussian"] {
            let d = try PersistenceDetector().detect(in: image, ["refine": .string(refine)])
            for s in spots {
                let onVerticalEdge = s.x < 0 || s.x > Double(w - 1)
                guard let p = d.peaks.first(where: { hypot($0.x - s.x, $0.y - s.y) < 1.5 }) else {
                    Issue.record("\(refine): spot at (\(s.x), \(s.y)) lost"); continue
                }
                let along = onVerticalEdge ? (p.y, s.y) : (p.x, s.x)
                let across = onVerticalEdge ? (p.x, s.x < 0 ? 0.0 : Double(w - 1)) : (p.y, s.y < 0 ? 0.0 : Double(h - 1))
                #expect(abs(along.0 - along.1) < 0.12, "\(refine): along the edge \(along.0) vs \(along.1)")
                #expect(across.0 == across.1, "\(refine): across the edge \(across.0)")
            }
        }
    }
}
