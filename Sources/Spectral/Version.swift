import CFFTW
#if canImport(Glibc)
import Glibc
#endif

/// Library versions, for run manifests.
public enum FFTWInfo {
    /// FFTW's version string, e.g. "fftw-3.3.10-sse2-avx", read from the library's exported
    /// `fftw_version` symbol (a C array Swift does not import; found with dlsym in the running
    /// process), or "unknown".
    public static var version: String {
        // Planning one tiny transform is not needed: the symbol is in the linked library.
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "fftw_version") else { return "unknown" }
        return String(cString: symbol.assumingMemoryBound(to: CChar.self))
    }
}
