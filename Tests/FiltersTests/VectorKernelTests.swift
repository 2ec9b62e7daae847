import Harness
import Testing
import _PeaksVectorKernels

/// The C kernels of _PeaksVectorKernels, on every instruction set this machine runs, against the
/// plain Swift loop: bit for bit, so that results never depend on the machine's vector unit.
@Suite("Vector kernels")
struct VectorKernelTests {
    static let isas: [peaks_isa] = [PEAKS_ISA_BASELINE, PEAKS_ISA_AVX2].filter { peaks_vector_isa_supported($0) != 0 }

    /// s = 0; s += k[m] * base[offset(m) + x] in tap order, in Float (Swift never fuses the two).
    static func reference(count: Int, base: [Float], offset: (Int) -> Int, k: [Float]) -> [Float] {
        (0..<count).map { x in
            var s: Float = 0
            for m in k.indices { s += k[m] * base[offset(m) + x] }
            return s
        }
    }

    @Test("tap sums equal the scalar loop bit for bit on every instruction set, at every length")
    func tapSumsMatchTheScalarLoop() {
        var rng = SeededRandom(seed: 41)
        // Lengths around the 64- and 16-wide blocks; tap counts of the Gaussians peaks uses.
        for count in [0, 1, 15, 16, 17, 63, 64, 65, 80, 127, 130, 200] {
            for taps in [1, 3, 7, 21, 41] {
                let stride = count + Int(rng.uniform(0, 9))
                let base = (0..<(stride * taps + count + 1)).map { _ in Float(rng.uniform(-1000, 1000)) }
                // Random weights, not a normalised Gaussian: sums that round at every step.
                let k = (0..<taps).map { _ in Float(rng.uniform(-1, 1)) }
                let offsets = (0..<taps).map { _ in Int(rng.uniform(0, Double(stride * taps))) }
                let wantStrided = Self.reference(count: count, base: base, offset: { $0 * stride }, k: k)
                let wantOffsets = Self.reference(count: count, base: base, offset: { offsets[$0] }, k: k)
                for isa in Self.isas {
                    var got = [Float](repeating: .nan, count: count + 1)
                    peaks_tap_sums_strided_isa(isa, &got, count, base, stride, k, taps)
                    #expect(got.prefix(count).map(\.bitPattern) == wantStrided.map(\.bitPattern), "strided: isa \(isa.rawValue), \(count) x \(taps)")
                    #expect(got[count].isNaN, "wrote past the end")
                    peaks_tap_sums_offsets_isa(isa, &got, count, base, offsets, k, taps)
                    #expect(got.prefix(count).map(\.bitPattern) == wantOffsets.map(\.bitPattern), "offsets: isa \(isa.rawValue), \(count) x \(taps)")
                }
            }
        }
    }

    @Test("two rows of tap sums equal two one-row calls bit for bit on every instruction set, at every length")
    func twoRowTapSumsMatchTwoOneRowCalls() {
        var rng = SeededRandom(seed: 43)
        for count in [0, 1, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100] {
            for taps in [1, 2, 3, 7, 21, 47, 181] {
                let stride = count + Int(rng.uniform(0, 9))
                let base = (0..<(stride * (taps + 1) + count + 1)).map { _ in Float(rng.uniform(-1000, 1000)) }
                let k = (0..<taps).map { _ in Float(rng.uniform(-1, 1)) }
                let dstStride = count + 3
                for isa in Self.isas {
                    var want = [Float](repeating: .nan, count: 2 * dstStride)
                    want.withUnsafeMutableBufferPointer { w in
                        base.withUnsafeBufferPointer { b in
                            peaks_tap_sums_strided_isa(isa, w.baseAddress!, count, b.baseAddress!, stride, k, taps)
                            peaks_tap_sums_strided_isa(isa, w.baseAddress! + dstStride, count, b.baseAddress! + stride, stride, k, taps)
                        }
                    }
                    var got = [Float](repeating: .nan, count: 2 * dstStride)
                    peaks_tap_sums_two_rows_isa(isa, &got, dstStride, count, base, stride, k, taps)
                    #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "isa \(isa.rawValue), \(count) x \(taps)")
                    // The slots between and after the two rows are untouched.
                    #expect(got[count..<dstStride].allSatisfy(\.isNaN) && got[(dstStride + count)...].allSatisfy(\.isNaN))
                }
            }
        }
    }

    @Test("whole-number test against the definition, at every length, with NaN, infinities, signed zeros and 2^23")
    func wholeNumbersMatchTheDefinition() {
        var rng = SeededRandom(seed: 45)
        let specials: [Float] = [.nan, .infinity, -.infinity, -0.0, 0, 8_388_607, 8_388_607.5, 8_388_608, 8_388_609, 1e30,
                                 -1, 0.5, 3, 4_194_304, .leastNonzeroMagnitude, Float(Int32.max), 2_147_483_904]
        for n in [0, 1, 15, 16, 17, 33, 100] {
            for trial in 0..<40 {
                var values = (0..<n).map { _ in Float(Int(rng.uniform(0, 300))) }
                // Most trials: one special value somewhere (or none).
                if n > 0, trial > 0 { values[Int(rng.uniform(0, Double(n)))] = specials[trial % specials.count] }
                let whole = values.allSatisfy { $0 >= 0 && $0 == $0.rounded(.towardZero) }
                let positive = values.contains { $0 > 0 }
                let largest = values.reduce(Float(0)) { $1 > $0 ? $1 : $0 }
                var gotPositive: Int32 = -1, gotLargest: Float = -1
                let got = peaks_whole_numbers(values, n, &gotPositive, &gotLargest)
                #expect((got != 0) == whole, "n \(n), trial \(trial): \(values)")
                #expect((gotPositive != 0) == positive, "n \(n), trial \(trial)")
                if whole { #expect(gotLargest == largest, "n \(n), trial \(trial)") }
            }
        }
    }

    /// The reference for the normal-equation kernels: GaussianSpotFit's Swift loop until session
    /// 25, one product and one sum at a time, pixel by pixel (the gradient starts at 0.25, as the
    /// kernels' output buffers do in the tests, to check that they add to it). Spot k's tables
    /// at k nx and k ny; background 0 constant, 1 plane, 2 quadratic.
    static func plainNormalEquations(
        spots: Int, background: Int, px: [Int32], py: [Int32], pv: [Double], p: [Double], ox: Int, oy: Int, nx: Int, ny: Int,
        tables: (ex: [Double], exd: [Double], exs: [Double], ey: [Double], eyd: [Double], eys: [Double])
    ) -> (gradient: [Double], normal: [Double]) {
        let (ex, exd, exs, ey, eyd, eys) = tables
        let n = p.count, planeIndex = 4 * spots
        var gradient = [Double](repeating: 0.25, count: n), normal = [Double](repeating: 0, count: n * n)
        var row = [Double](repeating: 0, count: n)
        for t in px.indices {
            let i = Int(px[t]), j = Int(py[t])
            var m = p[planeIndex]
            for k in 0..<spots {
                let a = p[4 * k + 3], exv = ex[k * nx + i], eyv = ey[k * ny + j]
                row[4 * k] = a * exd[k * nx + i] * eyv
                row[4 * k + 1] = a * exv * eyd[k * ny + j]
                row[4 * k + 2] = a * (exs[k * nx + i] * eyv + exv * eys[k * ny + j])
                row[4 * k + 3] = exv * eyv
                m += a * exv * eyv
            }
            row[planeIndex] = 1
            if background >= 1 {
                row[planeIndex + 1] = Double(ox + i); row[planeIndex + 2] = Double(oy + j)
                m += p[planeIndex + 1] * row[planeIndex + 1] + p[planeIndex + 2] * row[planeIndex + 2]
            }
            if background == 2 {
                let u = Double(ox + i), v = Double(oy + j)
                row[planeIndex + 3] = u * u; row[planeIndex + 4] = u * v; row[planeIndex + 5] = v * v
                m += p[planeIndex + 3] * u * u + p[planeIndex + 4] * u * v + p[planeIndex + 5] * v * v
            }
            let r = pv[t] - m
            for a in 0..<n {
                gradient[a] += row[a] * r
                for b in a..<n { normal[a * n + b] += row[a] * row[b] }
            }
        }
        return (gradient, normal)
    }

    @Test("single-spot normal equations equal GaussianSpotFit's scalar loop bit for bit on every instruction set")
    func spotNormalEquationsMatchTheScalarLoop() {
        var rng = SeededRandom(seed: 42)
        for (n, nx, ny) in [(5, 5, 5), (7, 13, 11), (5, 25, 25), (7, 3, 4), (10, 9, 12), (10, 31, 29)] {
            let slopes = n >= 7, curved = n == 10
            // Random pixels of the box (some left out, as masked ones are), values and tables.
            var px: [Int32] = [], py: [Int32] = [], pv: [Double] = []
            for j in 0..<ny { for i in 0..<nx where rng.uniform() < 0.8 { px.append(Int32(i)); py.append(Int32(j)); pv.append(rng.uniform(-50, 900)) } }
            let table = { (count: Int) in (0..<count).map { _ in rng.uniform(-1.5, 1.5) } }
            let ex = table(nx), exd = table(nx), exs = table(nx), ey = table(ny), eyd = table(ny), eys = table(ny)
            let p = (0..<n).map { _ in rng.uniform(-300, 300) }
            let ox = Int(rng.uniform(-9, 0)), oy = Int(rng.uniform(-9, 0))
            let (wantGradient, wantNormal) = Self.plainNormalEquations(
                spots: 1, background: curved ? 2 : slopes ? 1 : 0, px: px, py: py, pv: pv, p: p, ox: ox, oy: oy, nx: nx, ny: ny,
                tables: (ex, exd, exs, ey, eyd, eys))
            for isa in Self.isas {
                let stride = n <= 8 ? 8 : 16
                var gradient = [Double](repeating: 0.25, count: n), lines = [Double](repeating: 0, count: stride * n)
                peaks_spot_normal_equations_isa(isa, px.count, px, py, pv, p, n, curved ? 2 : slopes ? 1 : 0, ox, oy, ex, exd, exs, ey, eyd, eys, &gradient, &lines)
                #expect(gradient.map(\.bitPattern) == wantGradient.map(\.bitPattern), "gradient: isa \(isa.rawValue), n \(n)")
                for a in 0..<n {
                    #expect((a..<n).map { lines[stride * a + $0].bitPattern } == (a..<n).map { wantNormal[a * n + $0].bitPattern },
                            "normal row \(a): isa \(isa.rawValue), n \(n)")
                }
            }
        }
    }

    @Test("group normal equations equal the plain loop bit for bit on every instruction set, at and above the diagonal")
    func groupNormalEquationsMatchThePlainLoop() {
        var rng = SeededRandom(seed: 43)
        for (spots, background, nx, ny) in [(2, 1, 9, 8), (3, 0, 5, 7), (6, 1, 21, 19), (4, 2, 13, 15), (2, 2, 3, 3), (5, 1, 1, 6)] {
            let n = 4 * spots + (background == 2 ? 6 : background == 1 ? 3 : 1)
            var px: [Int32] = [], py: [Int32] = [], pv: [Double] = []
            for j in 0..<ny { for i in 0..<nx where rng.uniform() < 0.85 { px.append(Int32(i)); py.append(Int32(j)); pv.append(rng.uniform(-50, 900)) } }
            let table = { (count: Int) in (0..<count).map { _ in rng.uniform(-1.5, 1.5) } }
            let ex = table(spots * nx), exd = table(spots * nx), exs = table(spots * nx)
            let ey = table(spots * ny), eyd = table(spots * ny), eys = table(spots * ny)
            let p = (0..<n).map { _ in rng.uniform(-300, 300) }
            let ox = Int(rng.uniform(-9, 0)), oy = Int(rng.uniform(-9, 0))
            let (wantGradient, wantNormal) = Self.plainNormalEquations(
                spots: spots, background: background, px: px, py: py, pv: pv, p: p, ox: ox, oy: oy, nx: nx, ny: ny,
                tables: (ex, exd, exs, ey, eyd, eys))
            let stride = (n + 7) / 8 * 8
            for isa in Self.isas {
                var gradient = [Double](repeating: 0.25, count: n), lines = [Double](repeating: 0, count: stride * n)
                peaks_group_normal_equations_isa(
                    isa, px.count, px, py, pv, p, spots, n, Int32(background), ox, oy, nx, ny, ex, exd, exs, ey, eyd, eys, &gradient, &lines)
                #expect(gradient.map(\.bitPattern) == wantGradient.map(\.bitPattern), "gradient: isa \(isa.rawValue), \(spots) spots")
                for a in 0..<n {
                    #expect((a..<n).map { lines[stride * a + $0].bitPattern } == (a..<n).map { wantNormal[a * n + $0].bitPattern },
                            "normal row \(a): isa \(isa.rawValue), \(spots) spots, background \(background)")
                }
            }
        }
    }

    @Test("the single-spot cost equals GaussianSpotFit's scalar loop bit for bit")
    func spotCostMatchesTheScalarLoop() {
        var rng = SeededRandom(seed: 44)
        for (nx, ny) in [(1, 1), (5, 5), (13, 11), (25, 25)] {
            var px: [Int32] = [], py: [Int32] = [], pv: [Double] = []
            for j in 0..<ny { for i in 0..<nx where rng.uniform() < 0.8 { px.append(Int32(i)); py.append(Int32(j)); pv.append(rng.uniform(-50, 900)) } }
            let ex = (0..<nx).map { _ in rng.uniform(-1.5, 1.5) }, ey = (0..<ny).map { _ in rng.uniform(-1.5, 1.5) }
            let (b, gx, gy, a) = (rng.uniform(-300, 300), rng.uniform(-3, 3), rng.uniform(-3, 3), rng.uniform(-300, 300))
            let ox = Int(rng.uniform(-9, 0)), oy = Int(rng.uniform(-9, 0))
            var want = 0.0
            for t in px.indices {
                let i = Int(px[t]), j = Int(py[t])
                var m = b + gx * Double(ox + i) + gy * Double(oy + j)
                m += a * ex[i] * ey[j]
                let r = pv[t] - m
                want += r * r
            }
            let got = peaks_spot_cost(px.count, px, py, pv, b, gx, gy, ox, oy, a, ex, ey)
            #expect(got.bitPattern == want.bitPattern, "\(nx) x \(ny): \(got) against \(want)")

            // The quadratic background, in the order of GaussianSpotFit's loop.
            let (gxx, gxy, gyy) = (rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1))
            var wantQuadratic = 0.0
            for t in px.indices {
                let i = Int(px[t]), j = Int(py[t])
                let u = Double(ox + i), v = Double(oy + j)
                var m = b + gx * u + gy * v
                m += gxx * u * u + gxy * u * v + gyy * v * v
                m += a * ex[i] * ey[j]
                let r = pv[t] - m
                wantQuadratic += r * r
            }
            let gotQuadratic = peaks_spot_cost_quadratic(px.count, px, py, pv, [b, gx, gy, gxx, gxy, gyy], ox, oy, a, ex, ey)
            #expect(gotQuadratic.bitPattern == wantQuadratic.bitPattern, "\(nx) x \(ny): \(gotQuadratic) against \(wantQuadratic)")
            #expect(gotQuadratic != got || (gxx == 0 && gxy == 0 && gyy == 0) || px.count <= 1)
        }
    }

    @Test("quickselect returns the sorted value and partitions around it, on ties, runs and noise")
    func selectReturnsTheSortedValue() {
        var rng = SeededRandom(seed: 45)
        for n in [1, 2, 3, 17, 100, 1024, 5000] {
            for kind in 0..<7 {
                let values: [Float] = (0..<n).map { i in
                    switch kind {
                    case 0: return Float(rng.uniform(-1, 1))
                    case 1: return Float(Int(rng.uniform(0, 3)))  // heavy ties
                    case 2: return 7  // all equal
                    case 3: return Float(i)  // sorted
                    case 4: return Float(n - i)  // reversed
                    case 5: return Float(min(i, n - i))  // organ pipe
                    default: return rng.uniform(0, 1) < 0.5 ? 0.0 : -0.0  // signed zeros: equal
                    }
                }
                let sorted = values.sorted()
                for k in Set([0, n / 3, (n - 1) / 2, n - 1]) {
                    var a = values
                    let got = peaks_select(&a, n, k)
                    #expect(got == sorted[k] && a[k] == got, "n \(n) kind \(kind) k \(k)")
                    #expect(a[..<k].allSatisfy { $0 <= got } && a[(k + 1)...].allSatisfy { $0 >= got }, "n \(n) kind \(kind) k \(k): not partitioned")
                    #expect(a.sorted() == sorted, "n \(n) kind \(kind) k \(k): values lost")
                }
            }
        }
        // NaN is outside the contract, but must not hang or crash (the sort after 64 rounds
        // orders NaN last).
        var withNaN: [Float] = (0..<300).map { i in i % 3 == 0 ? .nan : Float(i % 7) }
        _ = peaks_select(&withNaN, withNaN.count, 150)
    }

    @Test("the indices above a limit, in order, on every instruction set")
    func indicesAboveMatchTheFilter() {
        var rng = SeededRandom(seed: 46)
        for n in [0, 1, 7, 8, 9, 31, 512, 1001] {
            let values: [Float] = (0..<n).map { _ in rng.uniform(0, 1) < 0.1 ? .infinity : Float(Int(rng.uniform(-3, 4))) }
            for limit: Float in [-.infinity, -1, 0, 2.5, .infinity] {
                let want = values.indices.filter { values[$0] > limit }.map { Int32($0) }
                for isa in Self.isas {
                    var out = [Int32](repeating: -1, count: n + 8)  // n, then eight guard slots
                    let count = peaks_indices_above_isa(isa, values, n, limit, &out)
                    #expect(out[n...].allSatisfy { $0 == -1 }, "wrote past n")
                    #expect(Array(out.prefix(count)) == want, "isa \(isa.rawValue), n \(n), limit \(limit)")
                }
            }
        }
    }

    @Test("the bracket pass counts and gathers what the plain loop does, on every instruction set")
    func bracketPassMatchesThePlainLoop() {
        var rng = SeededRandom(seed: 43)
        for n in [0, 1, 7, 8, 9, 63, 64, 65, 1000, 4099] {
            for kind in 0..<3 {
                let values: [Float] = (0..<n).map { _ in
                    switch kind {
                    case 0: return Float(rng.uniform(-1, 1))
                    case 1:  // ties at the bounds; -0.0 and 0.0
                        let v = Float(Int(rng.uniform(-3, 4)))
                        return v == 0 && rng.uniform(0, 1) < 0.5 ? -0.0 : v
                    default: return rng.uniform(0, 1) < 0.1 ? -.infinity : Float(rng.uniform(-1e30, 1e30))
                    }
                }
                let bounds: [(Float, Float)] = [(-0.25, 0.5), (-1, 1), (0, 0), (-.infinity, 0.1), (-0.1, .infinity),
                                                (-.infinity, .infinity), (2, 1)]
                for (lo, hi) in bounds {
                    // The plain loop.
                    let inside = values.filter { lo < $0 && $0 < hi }
                    let want = [values.count { $0 < lo }, values.count { $0 <= lo }, values.count { $0 <= hi }]
                    for isa in Self.isas {
                        for capacity in [n + 16, inside.count + 16, inside.count + 1, inside.count / 2] where capacity > 0 {
                            // Eight guard slots past the capacity must stay untouched.
                            var got = [Float](repeating: .nan, count: capacity + 8)
                            for g in capacity..<(capacity + 8) { got[g] = 12345 }
                            var counts = [-1, -1, -1]
                            let count = peaks_bracket_pass_isa(isa, values, n, lo, hi, &got, capacity, &counts)
                            #expect(got[capacity...].allSatisfy { $0 == 12345 }, "wrote past the capacity")
                            let context = "isa \(isa.rawValue), n \(n), kind \(kind), bracket (\(lo), \(hi)), capacity \(capacity)"
                            if capacity >= inside.count + 16 {
                                #expect(count == inside.count, "\(context)")
                            } else if capacity <= inside.count {
                                #expect(count == -1, "\(context): \(inside.count) cannot fit")
                            }
                            guard count >= 0 else { continue }
                            #expect(counts == want, "\(context)")
                            #expect(got.prefix(count).map(\.bitPattern) == inside.map(\.bitPattern), "\(context)")
                        }
                    }
                }
            }
        }
    }

    @Test("the chosen instruction set is supported, and on x86-64 machines with AVX2 it is AVX2")
    func chosenInstructionSet() {
        let chosen = peaks_vector_isa()
        #expect(peaks_vector_isa_supported(chosen) != 0)
        if peaks_vector_isa_supported(PEAKS_ISA_AVX2) != 0 { #expect(chosen == PEAKS_ISA_AVX2) }
    }
}
