import Benchmark
import Foundation
import ImageIO
import PeakKit
import Pipeline

/// Read-only throughput of uncompressed stacks from the page cache (issue "Speed": reading must
/// not be the bottleneck, at least 1 GB/s): every frame of a stack through
/// `ImageFormat.open` + `readFrame(i, into:)` with one reusable buffer, as the stack pipeline
/// reads, and through `FrameStream.run` with a no-op job on 1 and 2 threads (the framing overhead
/// of `peaks detect STACK`).
///
/// Stacks (512 x 512 frames; about `PEAKS_READBENCH_BYTES` bytes of pixels each, default 1 GiB;
/// `PEAKS_READBENCH_BYTES=4G` for the issue's figure):
///   NPY uint16 and float32, MIB U16 (written here, in Swift);
///   TIFF uint16 (one page and strip per frame), HDF5 uint16 contiguous and chunked by frame
///   (written once by Benchmarks/python/make_read_stacks.py with the Python in
///   `PEAKS_READBENCH_PYTHON`, default `python3`; skipped when that fails).
/// Files are kept in `PEAKS_READBENCH_DIR` (default $TMPDIR/peaks-readbench-<bytes>) and reused
/// by later runs. The warm-up iteration reads the whole file, so iterations read from the page
/// cache. Metric `MB/s` = stored pixel bytes / wall time (10^6 bytes per MB).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, ReadStacks.throughput],
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(8),
        maxIterations: 5)

    let stacks = ReadStacks.prepare()
    for stack in stacks {
        Benchmark("read \(stack.name), readFrame") { benchmark in
            for _ in benchmark.scaledIterations {
                let source = try ImageFormat.open(stack.path)
                var buffer = [Float](repeating: 0, count: source.layout.pixelsPerFrame)
                let start = DispatchTime.now().uptimeNanoseconds
                try buffer.withUnsafeMutableBufferPointer { b in
                    for i in 0..<source.layout.frameCount { try source.readFrame(i, into: b) }
                }
                ReadStacks.report(benchmark, bytes: stack.pixelBytes, since: start)
                blackHole(buffer[0])
            }
        }
        for threads in [1, 2] {
            Benchmark("read \(stack.name), FrameStream \(threads) thread\(threads == 1 ? "" : "s")") { benchmark in
                for _ in benchmark.scaledIterations {
                    let source = try ImageFormat.open(stack.path)
                    var sum: Float = 0
                    let start = DispatchTime.now().uptimeNanoseconds
                    try FrameStream.run(source: source, threads: threads,
                                        work: { _, image in image.pixels[0] },
                                        deliver: { _, v in sum += v })
                    ReadStacks.report(benchmark, bytes: stack.pixelBytes, since: start)
                    blackHole(sum)
                }
            }
        }
    }
}

enum ReadStacks {
    static let throughput = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)

    struct Stack {
        let name: String
        let path: String
        let pixelBytes: Int
    }

    static let side = 512

    static func report(_ benchmark: Benchmark, bytes: Int, since start: UInt64) {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        benchmark.measurement(throughput, Int(Double(bytes) / seconds / 1e6))
    }

    /// `1G`, `4G`, `512M` or a number of bytes.
    static func requestedBytes() -> Int {
        let text = ProcessInfo.processInfo.environment["PEAKS_READBENCH_BYTES"] ?? "1G"
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        if let last = text.uppercased().last, let unit = units[last], let n = Double(text.dropLast()) {
            return Int(n * Double(unit))
        }
        return Int(text) ?? (1 << 30)
    }

    /// Writes the stacks that are missing and lists those present.
    static func prepare() -> [Stack] {
        let env = ProcessInfo.processInfo.environment
        let bytes = requestedBytes()
        let folder = env["PEAKS_READBENCH_DIR"]
            ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("peaks-readbench-\(bytes)")
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let pixels = side * side
        let frames16 = max(1, bytes / (pixels * 2))
        let frames32 = max(1, bytes / (pixels * 4))
        func at(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }

        var stacks: [Stack] = []
        let npy16 = at("uint16.npy"), npy32 = at("float32.npy"), mib = at("stack.mib")
        writeIfMissing(npy16) { try writeNPY($0, descr: "<u2", frames: frames16, elementBytes: 2) }
        writeIfMissing(npy32) { try writeNPY($0, descr: "<f4", frames: frames32, elementBytes: 4) }
        writeIfMissing(mib) { try writeMIB($0, frames: frames16) }
        stacks.append(Stack(name: "NPY uint16", path: npy16, pixelBytes: frames16 * pixels * 2))
        stacks.append(Stack(name: "NPY float32", path: npy32, pixelBytes: frames32 * pixels * 4))
        stacks.append(Stack(name: "MIB U16", path: mib, pixelBytes: frames16 * pixels * 2))

        let python = [at("stack.tif"), at("contiguous.h5"), at("chunked.h5")]
        if !python.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("python/make_read_stacks.py").path
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [env["PEAKS_READBENCH_PYTHON"] ?? "python3", script, folder, "\(frames16)", "\(side)", "\(side)"]
            do {
                try process.run()
                process.waitUntilExit()
            } catch {
                print("ReadBenchmarks: cannot run \(script): \(error)")
            }
        }
        for (name, file) in zip(["TIFF uint16", "HDF5 uint16 contiguous", "HDF5 uint16 chunked"], python)
        where FileManager.default.fileExists(atPath: file) {
            stacks.append(Stack(name: name, path: file, pixelBytes: frames16 * pixels * 2))
        }
        return stacks
    }

    static func writeIfMissing(_ path: String, _ write: (FileHandle) throws -> Void) {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let part = path + ".part"
        do {
            _ = FileManager.default.createFile(atPath: part, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: part))
            try write(handle)
            try handle.close()
            try FileManager.default.moveItem(atPath: part, toPath: path)
        } catch {
            fatalError("ReadBenchmarks: cannot write \(path): \(error)")
        }
    }

    /// One frame of pseudo-random values below 4096 (as uint16); frame f is it XOR (f & 0xFFF).
    static func baseFrame() -> [UInt16] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<(side * side)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt16(truncatingIfNeeded: state >> 52)
        }
    }

    static func writeNPY(_ handle: FileHandle, descr: String, frames: Int, elementBytes: Int) throws {
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(frames), \(side), \(side)), }"
        while (10 + dict.utf8.count + 1) % 64 != 0 { dict += " " }
        dict += "\n"
        var header: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        header += [UInt8(dict.utf8.count & 0xFF), UInt8(dict.utf8.count >> 8)]
        header += Array(dict.utf8)
        try handle.write(contentsOf: header)
        let base = baseFrame()
        for f in 0..<frames {
            let key = UInt16(f & 0xFFF)
            let data: Data
            if elementBytes == 2 {
                data = base.map { ($0 ^ key).littleEndian }.withUnsafeBytes { Data($0) }
            } else {
                data = base.map { Float($0 ^ key).bitPattern.littleEndian }.withUnsafeBytes { Data($0) }
            }
            try handle.write(contentsOf: data)
        }
    }

    static func writeMIB(_ handle: FileHandle, frames: Int) throws {
        let base = baseFrame()
        func pad(_ v: Int, _ n: Int) -> String {
            let t = String(v)
            return String(repeating: "0", count: max(0, n - t.count)) + t
        }
        for f in 0..<frames {
            let text = "MQ1,\(pad(f + 1, 6)),00384,01,\(pad(side, 4)),\(pad(side, 4)),U16,   1x1"
                + ",01,2024-07-02 13:49:15.390226,0.001000,0,0,0,1.2E+1,MQ1A,2024-07-02T11:49:15.390226675Z,1000000ns,12,"
            var frame = Array(text.utf8)
            frame += Array(repeating: 0x20, count: 384 - frame.count)
            let key = UInt16(f & 0xFFF)
            frame += base.map { ($0 ^ key).bigEndian }.withUnsafeBytes { Array($0) }
            try handle.write(contentsOf: frame)
        }
    }
}
