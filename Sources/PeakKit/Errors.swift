#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Every failure peaks reports to a user. Each case renders as one line that names the file or
/// parameter at fault and what is wrong with it (the CLI prints it and exits with code 1).
public enum PeaksError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file could not be read or written, or its contents are not what they claim to be.
    case file(path: String, reason: String)
    /// A parameter value is out of range, not a number, or unknown to the detector.
    case invalidParameter(name: String, reason: String)
    /// The image itself cannot be processed (empty, non-finite pixels, ...).
    case invalidImage(reason: String)
    /// A mask (or other companion array) does not match the image it belongs to.
    case shapeMismatch(what: String, expected: (width: Int, height: Int), actual: (width: Int, height: Int))

    public var description: String {
        switch self {
        case let .file(path, reason): return "\(path): \(reason)"
        case let .invalidParameter(name, reason): return "parameter '\(name)': \(reason)"
        case let .invalidImage(reason): return "image: \(reason)"
        case let .shapeMismatch(what, expected, actual):
            return "\(what) is \(actual.width)x\(actual.height) but the image is \(expected.width)x\(expected.height) (width x height)"
        }
    }

    public static func == (lhs: PeaksError, rhs: PeaksError) -> Bool {
        lhs.description == rhs.description
    }

    /// What went wrong in a file-system call of Foundation (creating a folder, writing a file),
    /// for messages: the system's own words for the underlying POSIX error ("Permission denied",
    /// "No such file or directory"), else the error as it describes itself.
    public static func systemReason(_ error: Error) -> String {
        if let posix = (error as? CocoaError)?.underlying as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        return "\(error)"
    }
}
