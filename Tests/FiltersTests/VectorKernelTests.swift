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

    @Test("the chosen instruction set is supported, and on x86-64 machines with AVX2 it is AVX2")
    func chosenInstructionSet() {
        let chosen = peaks_vector_isa()
        #expect(peaks_vector_isa_supported(chosen) != 0)
        if peaks_vector_isa_supported(PEAKS_ISA_AVX2) != 0 { #expect(chosen == PEAKS_ISA_AVX2) }
    }
}
