import ArgumentParser
import Dispatch
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
import _PeaksIntrinsics
import PeakKit
import Spectral

/// The `peaks` command. Exit codes: 0 success, 1 bad input (files, images, parameter values),
/// 2 bad usage (unknown options, missing arguments). Errors are one line on stderr.
@main
struct Peaks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peaks",
        abstract: "Find peaks in 2-D scientific images, find pattern centres and register images.",
        discussion: """
            Coordinates: x = column, y = row, 0-based; the centre of pixel (0, 0) is (0.0, 0.0).
            Exit codes: 0 success, 1 bad input, 2 bad usage.
            """,
        version: PeaksVersion.string,
        subcommands: [
            Detect.self, Merge.self, Algorithms.self, Formats.self, Center.self, Register.self, Match.self, Shifts.self,
            Generate.self, Evaluate.self,
        ])

    static func main() {
        keepFreedMemoryForReuse()
        startFourierPlanner()
        do {
            var command = try Detect.parsedDirectly(CommandLine.arguments) ?? parseAsRoot()
            try command.run()
        } catch let error as PeaksError {
            fail("error: \(error.description)", code: 1)
        } catch let error as UsageError {
            fail("usage error: \(error.description)", code: 2)
        } catch {
            // --help and --version (of any subcommand) arrive as errors with a success code.
            if Peaks.exitCode(for: error) == .success { Peaks.exit(withError: error) }
            let message = Peaks.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            fail("usage error: \(message) (see 'peaks --help')", code: 2)
        }
    }

    /// glibc serves every allocation above its mmap threshold (128 KiB at start, adapting upwards
    /// only after frees) with fresh pages from the kernel, and a 512 x 512 Float image is 1 MiB:
    /// each temporary image then costs 256 page faults with zero-filling, a fifth of a
    /// detection's time. Up to 32 MiB (glibc's largest mmap threshold), allocations come from the
    /// heap and freed memory is kept for the next one (released above 512 MiB free). Peak memory
    /// is unchanged; a stack's frames reuse the same memory.
    ///
    /// The heap is then advised to transparent huge pages, with one arena for all threads (so
    /// that the worker threads allocate from it too) and a 64 MiB top pad: a 512 x 512 detection
    /// still touches about 26 MB of fresh memory, 6,400 faults of 4 KiB at 3-4 us each on a
    /// virtual machine (their memory accounting the most of it), about a fifth of the CPU. With
    /// huge pages: 1,300 faults, 18 ms less CPU and 7-12 ms less wall time per process (session
    /// 23, docs/performance.md); the same resident memory; the same outputs.
    static func keepFreedMemoryForReuse() {
        _ = peaks_malloc_keep_freed(32 << 20, 512 << 20)
        _ = peaks_heap_huge_pages(hugePagePad)
    }

    /// The heap advised to huge pages at start, in bytes.
    static let hugePagePad = 64 << 20

    /// A detection touches about 100 bytes of fresh memory per pixel of a frame (26 MB at 512²,
    /// 300 MB at 2048²); beyond the 64 MiB advised at start, the heap is grown and advised to
    /// huge pages for it (at most 384 MiB more, address space only until touched): 2048², 44,000
    /// -> 9,000 page faults, 8% less wall time (docs/performance.md, session 23).
    static func reserveHugePages(width: Int, height: Int) {
        let (w, h) = (max(0, width), max(0, height))
        guard w > 0, h > 0, w <= (1 << 20), h <= (1 << 20) else { return }
        let bytes = 100 * w * h
        if bytes > hugePagePad { _ = peaks_heap_extend_huge_pages(bytes - hugePagePad) }
    }

    /// Many frames or files in one process: their workers get malloc arenas of their own again
    /// (glibc's default, 8 per core), as before the one-arena heap. The first touches are paid
    /// once per process there, while one arena shared by many cores could make them wait on its
    /// lock (not measured: this machine has two cores, where one arena cost nothing on a
    /// 48-frame stack).
    static func arenasForManyFrames() {
        _ = peaks_malloc_arenas(Int32(clamping: 8 * ProcessInfo.processInfo.activeProcessorCount))
    }

    /// FFTW's planner start (about 1 ms, paid by the first plan of a process) on another core
    /// while the arguments are parsed and the input read, for the commands that plan transforms.
    static func startFourierPlanner() {
        let commands: Set<String> = ["detect", "center", "register", "shifts", "evaluate", "match"]
        guard CommandLine.arguments.count > 1, commands.contains(CommandLine.arguments[1]) else { return }
        DispatchQueue.global().async { FFTSettings.startPlanner() }
    }

    static func fail(_ line: String, code: Int32) -> Never {
        StandardError.write(("peaks: " + line + "\n"))
        #if canImport(Glibc)
        Glibc.exit(code)
        #else
        Darwin.exit(code)
        #endif
    }
}

