import CHDF5
import PeakKit
#if canImport(Glibc)
import Glibc
#endif

/// What opening an HDF5 file found, before the reader opens it in-process: libhdf5's error when
/// the file does not open, else the dataset choice (`--dataset`, the NeXus default, the only
/// image dataset) or why there is none, with the file's datasets when a message needs them.
///
/// libhdf5 1.10 is not hardened against forged metadata: it crashes (heap overflows, wild reads),
/// allocates gigabytes or loops inside H5Fopen, H5Oopen, H5Aexists and friends before peaks sees
/// anything (Fuzz/Known/FuzzHDF5). So the metadata is parsed first in a fork()ed child
/// (`ch5_probe` in Sources/CHDF5/probe.h): it opens the file, chooses the dataset, queries it as
/// HDF5Frames will and walks its chunk index, then reports. A child that dies, exits abnormally
/// (a sanitizer report) or runs past the timeout makes the file "corrupt HDF5 metadata"; the
/// parent then never parses it. Otherwise the parent opens the file and the chosen dataset
/// in-process: the same bytes through calls the child has just survived.
///
/// `PEAKS_HDF5_PROBE_TIMEOUT` (seconds, default 10) bounds the child; `PEAKS_HDF5_PROBE=off`
/// skips the child (trusted files only: the choice is then made in-process);
/// `PEAKS_HDF5_PROBE_STDERR=1` lets the child's standard error through (for debugging).
struct HDF5Inspection {
    enum Outcome: Equatable {
        case chosen(path: String, rule: String)
        case missing(String)      // --dataset names nothing
        case group(String)        // --dataset names a group
        case undecided            // no NeXus default, not exactly one image dataset
    }

    var openError: String?
    var outcome: Outcome = .undecided
    var candidates: [HDF5Frames.Candidate] = []
    /// Seconds the child took (fork to reaped), nil without a probe.
    var probeSeconds: Double?

    /// The probe's settings (`PEAKS_HDF5_PROBE`, `_TIMEOUT`, `_STDERR`) and messages.
    static let probe = ChildProbe(prefix: "PEAKS_HDF5_PROBE", subject: "HDF5 metadata", library: "libhdf5")

    /// Inspects `name` (a path on disk, or the name given to the file image `image`) with the
    /// dataset `wanted` (leading slash), in a child process unless the probe is off, for at most
    /// `timeout` seconds (default: `PEAKS_HDF5_PROBE_TIMEOUT`, else 10).
    static func run(path: String, name: String, image: UnsafeRawBufferPointer?, wanted: String?,
                    timeout: Double? = nil, probe: Bool = Self.probe.enabled) throws -> HDF5Inspection {
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: path, reason: reason) }
        try HDF5.prepare(path)
        guard probe else {
            var text = ch5_inspect_here(name, image?.baseAddress, image?.count ?? 0, wanted)
            defer { ch5_free(text.bytes) }
            guard text.failed == 0, let inspection = parse(&text) else { throw fail("cannot inspect the HDF5 file: out of memory") }
            return inspection
        }
        let limit = timeout ?? Self.probe.timeout
        var out = ch5_probe(name, image?.baseAddress, image?.count ?? 0, wanted, limit, Self.probe.keepStderr)
        defer { ch5_free(out.report.bytes) }
        guard out.state == Int32(CH5_PROBE_DONE) else {
            throw fail(Self.probe.reason(ChildProbe.Ending(rawValue: out.state) ?? .failed, detail: out.detail, limit: limit))
        }
        guard out.report.failed == 0, var inspection = parse(&out.report) else {
            throw fail("corrupt HDF5 metadata (libhdf5's report on it is incomplete)")
        }
        inspection.probeSeconds = out.seconds
        return inspection
    }

    /// Reads the report's records (see probe.h); nil when it does not end with its end marker.
    static func parse(_ text: inout ch5_text) -> HDF5Inspection? {
        guard let base = text.bytes, text.count >= 2 else { return nil }
        let bytes = UnsafeRawBufferPointer(start: base, count: text.count)
        var inspection = HDF5Inspection()
        var chosen: String?, rule: String?, complete = false
        for record in bytes.split(separator: 0, omittingEmptySubsequences: true) {
            let tag = record.first!
            let body = String(decoding: record.dropFirst(), as: UTF8.self)
            switch tag {
            case UInt8(ascii: "E"): inspection.openError = body.isEmpty ? "HDF5 failed without a message" : body
            case UInt8(ascii: "M"): inspection.outcome = .missing(body)
            case UInt8(ascii: "G"): inspection.outcome = .group(body)
            case UInt8(ascii: "D"): chosen = body
            case UInt8(ascii: "R"): rule = body
            case UInt8(ascii: "X"): complete = true
            case UInt8(ascii: "C"):
                guard let space = body.firstIndex(of: " ") else { return nil }
                let dims = body[..<space].split(separator: ",").map { Int($0) ?? Int.max }
                inspection.candidates.append(HDF5Frames.Candidate(path: String(body[body.index(after: space)...]), shape: dims))
            default: return nil
            }
        }
        if let chosen, let rule { inspection.outcome = .chosen(path: chosen, rule: rule) }
        return complete ? inspection : nil
    }
}
