import CFFTW
import PeakKit

/// The two precisions FFTW is linked in: `double` (libfftw3) and `float` (libfftw3f).
public enum FFTPrecision: String, Sendable, Hashable, CaseIterable {
    case float, double
}

/// A scalar type Spectral can transform: `Float` (single-precision FFTW) or `Double`.
/// Other conformances are refused at run time (the FFTW calls are chosen by `fftPrecision`).
public protocol FFTScalar: BinaryFloatingPoint, Sendable {
    static var fftPrecision: FFTPrecision { get }
}

extension Float: FFTScalar {
    public static var fftPrecision: FFTPrecision { .float }
}

extension Double: FFTScalar {
    public static var fftPrecision: FFTPrecision { .double }
}

/// Thin wrappers over the FFTW C API, chosen by precision. Everything that calls into FFTW lives
/// in this file. Planning functions (`planR2C`, `planC2R`, `destroy`, `setPlannerThreads`,
/// `initThreads`) must only be called with `Planner`'s lock held: the FFTW planner is not
/// thread-safe (docs/platform.md: 64 concurrent unprotected plans crashed or hung every time).
/// The `execute*` functions are thread-safe and are called without the lock.
enum FFTW {
    /// FFTW_ESTIMATE: plans depend only on the shape, never on timing, so results are
    /// bit-identical between runs, processes and thread counts (see README.md, "Determinism").
    static let planFlags: UInt32 = UInt32(FFTW_ESTIMATE)

    /// Stops with a clear message when a type other than Float or Double claims FFTScalar.
    static func checkScalar<T: FFTScalar>(_: T.Type) {
        switch T.fftPrecision {
        case .float:
            precondition(T.self == Float.self, "Spectral: \(T.self) claims .float precision; only Float and Double are supported")
        case .double:
            precondition(T.self == Double.self, "Spectral: \(T.self) claims .double precision; only Float and Double are supported")
        }
    }

    // MARK: Memory (SIMD-aligned; every buffer that meets a plan comes from here)

    /// `count` real scalars of the given precision, uninitialised.
    static func allocReal(_ p: FFTPrecision, count: Int) -> UnsafeMutableRawPointer {
        let n = max(1, count)
        let raw: UnsafeMutableRawPointer?
        switch p {
        case .double: raw = UnsafeMutableRawPointer(fftw_alloc_real(n))
        case .float: raw = UnsafeMutableRawPointer(fftwf_alloc_real(n))
        }
        guard let raw else { fatalError("Spectral: FFTW could not allocate \(n) \(p) reals") }
        return raw
    }

    /// `count` complex values (2 * count scalars, interleaved re, im), uninitialised.
    static func allocComplex(_ p: FFTPrecision, count: Int) -> UnsafeMutableRawPointer {
        let n = max(1, count)
        let raw: UnsafeMutableRawPointer?
        switch p {
        case .double: raw = UnsafeMutableRawPointer(fftw_alloc_complex(n))
        case .float: raw = UnsafeMutableRawPointer(fftwf_alloc_complex(n))
        }
        guard let raw else { fatalError("Spectral: FFTW could not allocate \(n) \(p) complex values") }
        return raw
    }

    /// Memory for a large array (`FFTRealArray`, `FFTHalfSpectrum`): from 4 MiB on, 2 MiB-aligned
    /// and advised to use transparent huge pages (PeakKit's `LargeBuffer`), which makes its first
    /// touch cost 1 page fault per 2 MiB instead of per 4 KiB and spares the TLB the split
    /// transform's column walks; smaller ones from `fftw_alloc`. Both are SIMD-aligned, so FFTW
    /// plans made on `fftw_alloc` arrays accept either. Release with `freeArray(_:large:_:)`.
    static func allocArray(_ p: FFTPrecision, scalars: Int) -> (raw: UnsafeMutableRawPointer, large: Bool) {
        let bytes = max(1, scalars) * (p == .double ? 8 : 4)
        if bytes >= 4 << 20 {
            return (UnsafeMutableRawPointer(LargeBuffer.allocate(UInt8.self, count: bytes)), true)
        }
        return (allocReal(p, count: scalars), false)
    }

    static func freeArray(_ p: FFTPrecision, large: Bool, _ raw: UnsafeMutableRawPointer) {
        if large { LargeBuffer.free(raw.assumingMemoryBound(to: UInt8.self)) } else { free(p, raw) }
    }

    static func free(_ p: FFTPrecision, _ raw: UnsafeMutableRawPointer) {
        switch p {
        case .double: fftw_free(raw)
        case .float: fftwf_free(raw)
        }
    }

    // MARK: Planning (lock held)

    static func initThreads() {
        precondition(fftw_init_threads() != 0, "Spectral: fftw_init_threads failed")
        precondition(fftwf_init_threads() != 0, "Spectral: fftwf_init_threads failed")
    }

    static func setPlannerThreads(_ p: FFTPrecision, _ n: Int) {
        switch p {
        case .double: fftw_plan_with_nthreads(Int32(n))
        case .float: fftwf_plan_with_nthreads(Int32(n))
        }
    }

    /// An out-of-place 2-D r2c plan for `rows x cols` reals -> `rows x (cols/2+1)` complex values.
    static func planR2C(
        _ p: FFTPrecision, rows: Int, cols: Int, input: UnsafeMutableRawPointer, output: UnsafeMutableRawPointer
    ) -> OpaquePointer? {
        switch p {
        case .double:
            return fftw_plan_dft_r2c_2d(
                Int32(rows), Int32(cols), input.assumingMemoryBound(to: Double.self),
                output.assumingMemoryBound(to: fftw_complex.self), planFlags)
        case .float:
            return fftwf_plan_dft_r2c_2d(
                Int32(rows), Int32(cols), input.assumingMemoryBound(to: Float.self),
                output.assumingMemoryBound(to: fftwf_complex.self), planFlags)
        }
    }

    /// An out-of-place 2-D c2r plan (destroys its input when executed).
    static func planC2R(
        _ p: FFTPrecision, rows: Int, cols: Int, input: UnsafeMutableRawPointer, output: UnsafeMutableRawPointer
    ) -> OpaquePointer? {
        switch p {
        case .double:
            return fftw_plan_dft_c2r_2d(
                Int32(rows), Int32(cols), input.assumingMemoryBound(to: fftw_complex.self),
                output.assumingMemoryBound(to: Double.self), planFlags)
        case .float:
            return fftwf_plan_dft_c2r_2d(
                Int32(rows), Int32(cols), input.assumingMemoryBound(to: fftwf_complex.self),
                output.assumingMemoryBound(to: Float.self), planFlags)
        }
    }

    /// A 1-D r2c plan of length `n`, out of place (one row of the split transform).
    static func planRowR2C(_ p: FFTPrecision, n: Int, input: UnsafeMutableRawPointer, output: UnsafeMutableRawPointer) -> OpaquePointer? {
        switch p {
        case .double:
            return fftw_plan_dft_r2c_1d(Int32(n), input.assumingMemoryBound(to: Double.self),
                                        output.assumingMemoryBound(to: fftw_complex.self), planFlags)
        case .float:
            return fftwf_plan_dft_r2c_1d(Int32(n), input.assumingMemoryBound(to: Float.self),
                                         output.assumingMemoryBound(to: fftwf_complex.self), planFlags)
        }
    }

    /// A 1-D c2r plan of length `n`, out of place (destroys its input when executed).
    static func planRowC2R(_ p: FFTPrecision, n: Int, input: UnsafeMutableRawPointer, output: UnsafeMutableRawPointer) -> OpaquePointer? {
        switch p {
        case .double:
            return fftw_plan_dft_c2r_1d(Int32(n), input.assumingMemoryBound(to: fftw_complex.self),
                                        output.assumingMemoryBound(to: Double.self), planFlags)
        case .float:
            return fftwf_plan_dft_c2r_1d(Int32(n), input.assumingMemoryBound(to: fftwf_complex.self),
                                         output.assumingMemoryBound(to: Float.self), planFlags)
        }
    }

    /// `lanes` in-place complex 1-D transforms of length `n` on an interleaved buffer: element k
    /// of lane j at `k * lanes + j` (stride `lanes`, distance 1). `sign` is FFTW_FORWARD or
    /// FFTW_BACKWARD.
    static func planColumns(_ p: FFTPrecision, n: Int, lanes: Int, sign: Int32, buffer: UnsafeMutableRawPointer) -> OpaquePointer? {
        var len = Int32(n)
        let l = Int32(lanes)
        switch p {
        case .double:
            let b = buffer.assumingMemoryBound(to: fftw_complex.self)
            return fftw_plan_many_dft(1, &len, l, b, nil, l, 1, b, nil, l, 1, sign, planFlags)
        case .float:
            let b = buffer.assumingMemoryBound(to: fftwf_complex.self)
            return fftwf_plan_many_dft(1, &len, l, b, nil, l, 1, b, nil, l, 1, sign, planFlags)
        }
    }

    static func destroy(_ p: FFTPrecision, _ plan: OpaquePointer) {
        switch p {
        case .double: fftw_destroy_plan(plan)
        case .float: fftwf_destroy_plan(plan)
        }
    }

    // MARK: Execution (thread-safe; new-array interface)

    /// Runs an r2c plan on new arrays. Both must come from `allocReal`/`allocComplex` (same SIMD
    /// alignment as the arrays the plan was made with) and have the plan's shape.
    static func executeR2C(_ p: FFTPrecision, _ plan: OpaquePointer, _ input: UnsafeMutableRawPointer, _ output: UnsafeMutableRawPointer) {
        switch p {
        case .double:
            fftw_execute_dft_r2c(plan, input.assumingMemoryBound(to: Double.self), output.assumingMemoryBound(to: fftw_complex.self))
        case .float:
            fftwf_execute_dft_r2c(plan, input.assumingMemoryBound(to: Float.self), output.assumingMemoryBound(to: fftwf_complex.self))
        }
    }

    /// Runs a complex plan in place on a new buffer (from `allocComplex`, the plan's size).
    static func executeDFT(_ p: FFTPrecision, _ plan: OpaquePointer, _ buffer: UnsafeMutableRawPointer) {
        switch p {
        case .double:
            let b = buffer.assumingMemoryBound(to: fftw_complex.self)
            fftw_execute_dft(plan, b, b)
        case .float:
            let b = buffer.assumingMemoryBound(to: fftwf_complex.self)
            fftwf_execute_dft(plan, b, b)
        }
    }

    /// Runs a c2r plan on new arrays; `input` is overwritten.
    static func executeC2R(_ p: FFTPrecision, _ plan: OpaquePointer, _ input: UnsafeMutableRawPointer, _ output: UnsafeMutableRawPointer) {
        switch p {
        case .double:
            fftw_execute_dft_c2r(plan, input.assumingMemoryBound(to: fftw_complex.self), output.assumingMemoryBound(to: Double.self))
        case .float:
            fftwf_execute_dft_c2r(plan, input.assumingMemoryBound(to: fftwf_complex.self), output.assumingMemoryBound(to: Float.self))
        }
    }
}
