#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Correlation
import Detectors
import PeakKit
import Pipeline

// The C ABI of peaks (include/peaks.h documents every function). Every entry point returns a
// result handle (`peaks_result *`) holding a status, a one-line message on failure, a table of
// doubles with column names, or a text; the caller frees it with `peaks_result_free`. No entry
// point exits, traps on bad input or writes to standard output or error.

/// Status codes (PEAKS_OK ... in peaks.h).
enum Status: Int32 {
    case ok = 0
    /// Bad input: the message is the one the CLI prints after "peaks: error: ".
    case invalidInput = 1
    /// A malformed call: NULL pointer, unknown type code, bad count.
    case invalidCall = 2
    /// Anything else (should not happen).
    case internalError = 3
}

/// What a `peaks_result *` points to.
final class ResultBox {
    var status: Status = .ok
    private(set) var message: UnsafeMutablePointer<CChar>?
    private(set) var columnNames: [UnsafeMutablePointer<CChar>] = []
    /// The column names joined by commas ("x,y,value,prominence").
    private(set) var header: UnsafeMutablePointer<CChar>?
    private(set) var rows = 0
    /// rows x columns doubles, row-major.
    private(set) var data: UnsafeMutablePointer<Double>?
    private(set) var text: UnsafeMutablePointer<CChar>?

    init() {}

    init(failure status: Status, _ message: String) {
        self.status = status
        self.message = strdup(message)
    }

    func setTable(columns: [String], values: [Double]) {
        precondition(columns.isEmpty ? values.isEmpty : values.count % columns.count == 0)
        columnNames = columns.map { strdup($0)! }
        header = strdup(columns.joined(separator: ","))
        rows = columns.isEmpty ? 0 : values.count / columns.count
        let p = UnsafeMutablePointer<Double>.allocate(capacity: max(1, values.count))
        values.withUnsafeBufferPointer { p.initialize(from: $0.baseAddress!, count: $0.count) }
        data = p
    }

    func setText(_ s: String) { text = strdup(s) }

    deinit {
        free(message)
        for n in columnNames { free(n) }
        free(header)
        data?.deallocate()
        free(text)
    }

    var opaque: OpaquePointer { OpaquePointer(Unmanaged.passRetained(self).toOpaque()) }

    static func from(_ p: OpaquePointer) -> ResultBox { Unmanaged<ResultBox>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue() }
}

/// Runs `body`, turning every thrown error into a failed result.
private func guarded(_ body: () throws -> ResultBox) -> OpaquePointer {
    do {
        return try body().opaque
    } catch let error as PeaksError {
        return ResultBox(failure: .invalidInput, error.description).opaque
    } catch let error as CallError {
        return ResultBox(failure: .invalidCall, error.description).opaque
    } catch {
        return ResultBox(failure: .internalError, "internal error: \(error)").opaque
    }
}

nonisolated(unsafe) private let versionText: UnsafeMutablePointer<CChar> = strdup(PeaksVersion.string)!

@_cdecl("peaks_version")
public func peaks_version() -> UnsafePointer<CChar> { UnsafePointer(versionText) }

@_cdecl("peaks_abi_version")
public func peaks_abi_version() -> Int32 { 1 }

@_cdecl("peaks_algorithms_json")
public func peaks_algorithms_json() -> OpaquePointer {
    guarded {
        let r = ResultBox()
        r.setText(builtinDetectors.catalogJSON())
        return r
    }
}

@_cdecl("peaks_parameters_json")
public func peaks_parameters_json(_ algorithm: UnsafePointer<CChar>?) -> OpaquePointer {
    guarded {
        let detector = try requireDetector(algorithm)
        let r = ResultBox()
        r.setText(DetectorRegistry([detector]).catalogJSON())
        return r
    }
}

/// The detector named by a C string, or the CLI's message listing the known ones.
private func requireDetector(_ algorithm: UnsafePointer<CChar>?) throws -> any PeakDetector {
    guard let algorithm else { throw CallError("algorithm is NULL") }
    let name = String(cString: algorithm)
    guard let detector = builtinDetectors.detector(named: name) else {
        throw PeaksError.invalidParameter(name: "algo", reason: builtinDetectors.unknownDetectorMessage(name, spelledAs: "algorithm"))
    }
    return detector
}

// MARK: Detection

/// A 2-D image or the frames of a 3-D/4-D array, checked: ndim, empty, mask shape.
private func checkedImageArray(_ raw: UnsafeRawPointer?, what: String = "image") throws -> ArrayView {
    guard let raw else { throw CallError("\(what): NULL array") }
    let a = try ArrayView(raw, what: what)
    guard (2...4).contains(a.shape.count) else {
        throw PeaksError.invalidImage(
            reason: "expected a 2-D image, a 3-D stack (frames, rows, columns) or a 4-D scan (scan_y, scan_x, rows, columns), got a \(a.shape.count)-D array of shape \(a.shapeText)")
    }
    if a.shape.contains(0) {
        if a.shape.count == 2 {
            throw PeaksError.invalidImage(reason: "the image is empty (\(a.width)x\(a.height))")
        }
        throw PeaksError.invalidImage(reason: "the array is empty (shape \(a.shapeText))")
    }
    return a
}

/// A 2-D mask of the given frame shape.
private func checkedMask(_ raw: UnsafeRawPointer?, width: Int, height: Int, what: String = "mask") throws -> Mask? {
    guard let raw else { return nil }
    let m = try ArrayView(raw, what: what)
    guard m.shape.count == 2 else {
        throw PeaksError.invalidImage(reason: "the \(what) must be 2-D (rows, columns), got a \(m.shape.count)-D array of shape \(m.shapeText)")
    }
    guard m.width == width, m.height == height else {
        throw PeaksError.shapeMismatch(what: what, expected: (width, height), actual: (m.width, m.height))
    }
    return m.mask()
}

/// The settings given as key/value strings, checked against the detector's typed settings with
/// the CLI's messages.
private func resolveSettings(
    _ detector: any PeakDetector, count: Int32, keys: UnsafePointer<UnsafePointer<CChar>?>?, values: UnsafePointer<UnsafePointer<CChar>?>?
) throws -> ParameterSet {
    guard count >= 0 else { throw CallError("nsettings is negative (\(count))") }
    guard count == 0 || (keys != nil && values != nil) else { throw CallError("settings keys or values is NULL") }
    var given: [String: ParameterValue] = [:]
    let specs = detector.acceptedParameterSpecs
    for i in 0..<Int(count) {
        guard let k = keys![i], let v = values![i] else { throw CallError("setting \(i): NULL key or value") }
        let name = String(cString: k).replacing("-", with: "_")
        let text = String(cString: v)
        guard let spec = specs.first(where: { $0.name == name }) else {
            throw PeaksError.invalidParameter(
                name: name, reason: ParameterSet.unknownReason(name, specs: specs, detectorName: "the \(detector.name) detector"))
        }
        if given[name] != nil { throw PeaksError.invalidParameter(name: name, reason: "given twice") }
        given[name] = try spec.parse(text)
    }
    return try detector.resolveParameters(given)
}

/// Collects detections into one table: [frame, [scan_y, scan_x]] x, y, value, extras. Extras are
/// the first detection's attribute names (as the CLI's stack table does).
private struct TableBuilder {
    let positionColumns: [String]
    var attributeNames: [String]?
    var values: [Double] = []

    init(positionColumns: [String]) { self.positionColumns = positionColumns }

    mutating func add(_ d: Detection, position: [Double]) {
        if attributeNames == nil { attributeNames = d.attributeNames }
        let names = attributeNames!
        values.reserveCapacity(values.count + d.peaks.count * (positionColumns.count + 3 + names.count))
        for p in d.peaks {
            values.append(contentsOf: position)
            values.append(p.x)
            values.append(p.y)
            values.append(p.value)
            for n in names { values.append(p.attributes[n] ?? .nan) }
        }
    }

    var columns: [String] { positionColumns + ["x", "y", "value"] + (attributeNames ?? []) }
}

@_cdecl("peaks_detect")
public func peaks_detect(
    _ image: UnsafeRawPointer?, _ mask: UnsafeRawPointer?, _ algorithm: UnsafePointer<CChar>?,
    _ nsettings: Int32, _ keys: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
    _ nonfinite: Int32, _ threads: Int32
) -> OpaquePointer {
    guarded {
        let detector = try requireDetector(algorithm)
        let parameters = try resolveSettings(detector, count: nsettings, keys: keys, values: values)
        guard let policy: NonFinitePolicy = nonfinite == 0 ? .error : nonfinite == 1 ? .mask : nil else {
            throw CallError("nonfinite must be 0 (error) or 1 (mask), got \(nonfinite)")
        }
        guard threads >= 0 else { throw CallError("threads is negative (\(threads))") }
        let a = try checkedImageArray(image)
        let validity = try checkedMask(mask, width: a.width, height: a.height)
        let job = FrameDetection(detector: detector, parameters: parameters, mask: validity, nonFinite: policy)
        let result = ResultBox()
        if a.shape.count == 2 {
            var table = TableBuilder(positionColumns: [])
            table.add(try job.run(a.image()), position: [])
            result.setTable(columns: table.columns, values: table.values)
            return result
        }
        let source = ArrayFrames(a)
        // As `peaks detect STACK`: settings measured from the data are resolved once per stack.
        let stackJob = try job.resolved(forStack: source)
        let scanned = a.shape.count == 4
        var table = TableBuilder(positionColumns: scanned ? ["frame", "scan_y", "scan_x"] : ["frame"])
        try stackJob.run(over: source, threads: Int(threads), deliver: { index, detection in
            var position = [Double(index)]
            if scanned { position += [Double(index / a.shape[1]), Double(index % a.shape[1])] }
            table.add(detection, position: position)
        })
        result.setTable(columns: table.columns, values: table.values)
        return result
    }
}

/// The settings `peaks_detect` runs every frame of a stack with: the given ones, with those the
/// detector measures from the data (`auto`) resolved from the frames `StackSampling` picks (a
/// 2-D image is a stack of one). As a JSON object {name: value} in the parameters' order. Pass
/// them to `peaks_detect` for each block of a stack processed in pieces (dask) to get exactly
/// the whole stack's table.
@_cdecl("peaks_resolve_settings")
public func peaks_resolve_settings(
    _ image: UnsafeRawPointer?, _ mask: UnsafeRawPointer?, _ algorithm: UnsafePointer<CChar>?,
    _ nsettings: Int32, _ keys: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?
) -> OpaquePointer {
    guarded {
        let detector = try requireDetector(algorithm)
        let parameters = try resolveSettings(detector, count: nsettings, keys: keys, values: values)
        let a = try checkedImageArray(image)
        let validity = try checkedMask(mask, width: a.width, height: a.height)
        let job = try FrameDetection(detector: detector, parameters: parameters, mask: validity).resolved(forStack: ArrayFrames(a))
        let r = ResultBox()
        r.setText(JSONText.object(job.parameters.entries.map { ($0.0, $0.1.asValue) }))
        return r
    }
}

// MARK: Registration and centre

@_cdecl("peaks_phase_cross_correlation")
public func peaks_phase_cross_correlation(
    _ reference: UnsafeRawPointer?, _ moving: UnsafeRawPointer?,
    _ referenceMask: UnsafeRawPointer?, _ movingMask: UnsafeRawPointer?,
    _ upsampleFactor: Int32, _ normalization: Int32, _ overlapRatio: Double
) -> OpaquePointer {
    guarded {
        func image(_ raw: UnsafeRawPointer?, _ what: String) throws -> Image {
            guard let raw else { throw CallError("\(what): NULL array") }
            let a = try ArrayView(raw, what: what)
            guard a.shape.count == 2 else {
                throw PeaksError.invalidImage(reason: "the \(what) must be 2-D (rows, columns), got a \(a.shape.count)-D array of shape \(a.shapeText)")
            }
            guard !a.shape.contains(0) else { throw PeaksError.invalidImage(reason: "the \(what) is empty (\(a.width)x\(a.height))") }
            return a.image()
        }
        let ref = try image(reference, "reference image")
        let mov = try image(moving, "moving image")
        guard mov.width == ref.width, mov.height == ref.height else {
            throw PeaksError.shapeMismatch(what: "moving image", expected: (ref.width, ref.height), actual: (mov.width, mov.height))
        }
        let rm = try checkedMask(referenceMask, width: ref.width, height: ref.height, what: "reference mask")
        let mm = try checkedMask(movingMask, width: mov.width, height: mov.height, what: "moving mask")
        let r: Registration
        if rm != nil || mm != nil {
            guard upsampleFactor == 1 else {
                throw PeaksError.invalidParameter(
                    name: "upsample_factor",
                    reason: "is for phase correlation; with a mask the masked NCC peak is refined by a quadratic fit (leave it at 1)")
            }
            guard overlapRatio >= 0, overlapRatio <= 1 else {
                throw PeaksError.invalidParameter(name: "overlap_ratio", reason: "must be in 0...1, got \(overlapRatio)")
            }
            r = try MaskedNCC.register(reference: ref, moving: mov, referenceMask: rm, movingMask: mm, overlapRatio: overlapRatio)
        } else {
            guard let norm: PhaseCorrelation.Normalization = normalization == 0 ? .phase : normalization == 1 ? PhaseCorrelation.Normalization.none : nil else {
                throw CallError("normalization must be 0 (phase) or 1 (none), got \(normalization)")
            }
            r = try PhaseCorrelation.register(reference: ref, moving: mov, upsample: Int(upsampleFactor), normalization: norm)
        }
        let result = ResultBox()
        result.setTable(
            columns: ["shift_row", "shift_col", "error", "phasediff", "peak_correlation"],
            values: [r.dy, r.dx, r.error ?? .nan, r.phaseDifference ?? .nan, r.peakCorrelation ?? .nan])
        return result
    }
}

@_cdecl("peaks_center")
public func peaks_center(_ image: UnsafeRawPointer?, _ mask: UnsafeRawPointer?) -> OpaquePointer {
    guarded {
        let a = try checkedImageArray(image)
        guard a.shape.count == 2 else {
            throw PeaksError.invalidImage(reason: "the centre needs a 2-D image (rows, columns), got a \(a.shape.count)-D array of shape \(a.shapeText)")
        }
        let img = a.image()
        var valid = try checkedMask(mask, width: img.width, height: img.height)
        // As `peaks center`: NaN and infinite pixels are invalid.
        if img.firstNonFinitePixel() != nil {
            valid = (valid ?? Mask(width: img.width, height: img.height)).intersection(Mask(finitePixelsOf: img))
        }
        let c = try Autocenter.find(img, mask: valid)
        let result = ResultBox()
        result.setTable(columns: ["x", "y", "confidence"], values: [c.x, c.y, c.peak])
        return result
    }
}

// MARK: Results

@_cdecl("peaks_result_status")
public func peaks_result_status(_ r: OpaquePointer?) -> Int32 {
    guard let r else { return Status.invalidCall.rawValue }
    return ResultBox.from(r).status.rawValue
}

@_cdecl("peaks_result_error")
public func peaks_result_error(_ r: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let r, let m = ResultBox.from(r).message else { return nil }
    return UnsafePointer(m)
}

@_cdecl("peaks_result_rows")
public func peaks_result_rows(_ r: OpaquePointer?) -> Int64 {
    guard let r else { return 0 }
    return Int64(ResultBox.from(r).rows)
}

@_cdecl("peaks_result_columns")
public func peaks_result_columns(_ r: OpaquePointer?) -> Int32 {
    guard let r else { return 0 }
    return Int32(ResultBox.from(r).columnNames.count)
}

@_cdecl("peaks_result_column_name")
public func peaks_result_column_name(_ r: OpaquePointer?, _ i: Int32) -> UnsafePointer<CChar>? {
    guard let r else { return nil }
    let names = ResultBox.from(r).columnNames
    guard i >= 0, Int(i) < names.count else { return nil }
    return UnsafePointer(names[Int(i)])
}

@_cdecl("peaks_result_header")
public func peaks_result_header(_ r: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let r, let h = ResultBox.from(r).header else { return nil }
    return UnsafePointer(h)
}

@_cdecl("peaks_result_data")
public func peaks_result_data(_ r: OpaquePointer?) -> UnsafePointer<Double>? {
    guard let r, let d = ResultBox.from(r).data else { return nil }
    return UnsafePointer(d)
}

@_cdecl("peaks_result_text")
public func peaks_result_text(_ r: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let r, let t = ResultBox.from(r).text else { return nil }
    return UnsafePointer(t)
}

@_cdecl("peaks_result_free")
public func peaks_result_free(_ r: OpaquePointer?) {
    guard let r else { return }
    Unmanaged<ResultBox>.fromOpaque(UnsafeRawPointer(r)).release()
}
