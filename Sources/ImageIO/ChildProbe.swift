import PeakKit
#if canImport(Glibc)
import Glibc
#endif

/// What the format probes share (HDF5Probe.swift, `FITSProbe` in FITS.swift): a C library's
/// parsing of a file's metadata runs first in a fork()ed child (Sources/CHDF5/probe.h,
/// Sources/CFITSIO/probe.h), set up by environment variables with one prefix, and a child that
/// did not finish becomes one line naming the library.
///
/// `<PREFIX>_TIMEOUT` (seconds, default 10) bounds the child; `<PREFIX>=off` (or 0, no, false)
/// skips it; `<PREFIX>_STDERR=1` lets the child's standard error through.
struct ChildProbe {
    static let defaultTimeout = 10.0

    /// The environment variables' prefix, e.g. `PEAKS_HDF5_PROBE`.
    let prefix: String
    /// What the child parses and who parses it, for the messages: "HDF5 metadata", "libhdf5".
    let subject: String
    let library: String

    var timeout: Double {
        guard let text = getenv(prefix + "_TIMEOUT").map({ String(cString: $0) }),
              let value = Double(text), value > 0, value.isFinite else { return Self.defaultTimeout }
        return value
    }

    var enabled: Bool {
        guard let text = getenv(prefix).map({ String(cString: $0) }) else { return true }
        return !["0", "off", "no", "false"].contains(text.lowercased())
    }

    var keepStderr: Int32 {
        getenv(prefix + "_STDERR").map { String(cString: $0) == "1" } == true ? 1 : 0
    }

    /// How a child that did not finish ended; the probes' C enums have these values.
    enum Ending: Int32 {
        case signal = 1, exit = 2, timeout = 3, failed = 4
    }

    /// The one-line reason for a child that ended as `ending` (`detail`: the signal, the exit
    /// status or errno), given the time limit it had.
    func reason(_ ending: Ending, detail: Int32, limit: Double) -> String {
        switch ending {
        case .signal:
            return "corrupt \(subject) (\(library) crashed parsing it: signal \(detail)\(Self.signalName(detail)))"
        case .exit:
            return "corrupt \(subject) (\(library) failed parsing it: the checking process exited with status \(detail))"
        case .timeout:
            let seconds = limit == limit.rounded() && limit < 1e9 ? String(Int(limit)) : String(limit)
            return "corrupt \(subject) (\(library) did not finish parsing it within \(seconds) s; \(prefix)_TIMEOUT sets the limit)"
        case .failed:
            return "cannot check the \(subject) in a child process: \(String(cString: strerror(detail)))"
        }
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGSEGV: return ", SIGSEGV"
        case SIGBUS: return ", SIGBUS"
        case SIGABRT: return ", SIGABRT"
        case SIGFPE: return ", SIGFPE"
        case SIGILL: return ", SIGILL"
        case SIGKILL: return ", SIGKILL"
        default: return ""
        }
    }
}
