/// The version of peaks: the CLI's `--version`, the C ABI's `peaks_version()` and the Python
/// package's `__version__` (python/setup.py reads it from this file).
public enum PeaksVersion {
    public static let string = "0.1.0"
}
