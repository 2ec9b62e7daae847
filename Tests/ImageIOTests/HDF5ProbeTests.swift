import Foundation
@testable import ImageIO
import PeakKit
import Testing

/// The HDF5 metadata probe (Sources/CHDF5/probe.h, HDF5Probe.swift): libhdf5 1.10.8 parses the
/// metadata in a fork()ed child first; a crash or hang there is a one-line error, never a crash.
@Suite("HDF5 probe")
struct HDF5ProbeTests {
    static let known = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/Known")

    /// Every whole-file HDF5 input the fuzzers kept (Fuzz/Known/FuzzHDF5*), except the slow one
    /// (its own test below).
    static let inputs: [String] = {
        let folders = ["FuzzHDF5", "FuzzHDF5-leaks", "FuzzHDF5-oom"]
        return folders.flatMap { folder in
            ((try? FileManager.default.contentsOfDirectory(atPath: known.appendingPathComponent(folder).path)) ?? [])
                .sorted().map { folder + "/" + $0 }
        }
    }()

    static let slow = "FuzzHDF5-slow/timeout-b5eb315be2a30c86d88cfbd1726752cf396b7764"

    static func path(_ name: String) -> String { known.appendingPathComponent(name).path }

    @Test func theKnownInputsAreThere() {
        #expect(Self.inputs.count >= 7)
        #expect(Self.inputs.contains("FuzzHDF5/crash-cd8544a0b2caabc505c575a5de1ddf44b4268a48"))
    }

    /// On disk and as an in-memory file: a PeaksError naming the file, one line, never a crash.
    @Test(arguments: inputs)
    func knownInputsGiveOneLineErrors(_ name: String) throws {
        func expectOneLine(_ path: String, _ body: () throws -> Void) {
            do {
                try body()
                Issue.record("\(name): no error")
            } catch let error as PeaksError {
                guard case let .file(p, _) = error else { Issue.record("\(name): \(error)"); return }
                #expect(p == path)
                #expect(!error.description.contains("\n"))
            } catch {
                Issue.record("\(name): \(type(of: error)) \(error)")
            }
        }
        let path = Self.path(name)
        expectOneLine(path) {
            let source = try ImageFormat.hdf5.open(InputFile(path), .init())
            for i in 0..<min(source.layout.frameCount, 8) { _ = try source.frame(i) }
        }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        expectOneLine("mem.h5") { try openAndReadAll(bytes, format: .hdf5, name: "mem.h5") }
    }

    /// libhdf5 1.10.8 dies on SIGSEGV parsing this file's object headers (before the probe, the
    /// `peaks` process did).
    @Test func aCrashInTheChildIsCorruptMetadata() throws {
        let path = Self.path("FuzzHDF5/crash-cd8544a0b2caabc505c575a5de1ddf44b4268a48")
        expectFileError(path: path, contains: "corrupt HDF5 metadata (libhdf5 crashed parsing it: signal 11") {
            _ = try ImageFormat.hdf5.open(InputFile(path), .init())
        }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        expectFileError(path: "m.h5", contains: "libhdf5 crashed parsing it: signal 11") {
            _ = try ImageFormat.hdf5.open(InputFile(bytes: bytes, name: "m.h5"), .init())
        }
    }

    /// A global-heap read that libhdf5 does not finish (minutes): the child is killed at the
    /// timeout.
    @Test func aHangInTheChildIsKilledAtTheTimeout() throws {
        let path = Self.path(Self.slow)
        let start = Date()
        expectFileError(path: path, contains: "corrupt HDF5 metadata (libhdf5 did not finish parsing it within 1 s") {
            _ = try HDF5Inspection.run(path: path, name: path, image: nil, wanted: nil, timeout: 1, probe: true)
        }
        #expect(Date().timeIntervalSince(start) < 6)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        expectFileError(path: "slow.h5", contains: "within 0.5 s") {
            _ = try bytes.withUnsafeBytes {
                try HDF5Inspection.run(path: "slow.h5", name: "peaks-test-slow.h5", image: $0, wanted: nil, timeout: 0.5, probe: true)
            }
        }
    }

    /// The child's choice equals the in-process one (PEAKS_HDF5_PROBE=off) on every fixture,
    /// with and without --dataset.
    @Test(arguments: ["gzip2d.h5", "bslz4_stack.h5", "nexus.nxs", "nexus_entry_default.nxs", "scan4d.h5",
                      "two_candidates.h5", "types.h5", "userblock.h5", "forged_metadata.h5"])
    func childAndInProcessChooseAlike(_ name: String) throws {
        let path = Fixture.path("hdf5/" + name)
        for wanted in [nil, "/data", "/a", "/entry", "/no/such"] as [String?] {
            let child = try HDF5Inspection.run(path: path, name: path, image: nil, wanted: wanted, probe: true)
            let here = try HDF5Inspection.run(path: path, name: path, image: nil, wanted: wanted, probe: false)
            #expect(child.openError == here.openError)
            #expect(child.outcome == here.outcome, "\(name) \(wanted ?? "-")")
            #expect(child.candidates.map(\.path) == here.candidates.map(\.path))
            #expect(child.candidates.map(\.shape) == here.candidates.map(\.shape))
            #expect(child.probeSeconds != nil && here.probeSeconds == nil)
        }
        let two = try HDF5Inspection.run(path: path, name: path, image: nil, wanted: nil, probe: true)
        if name == "two_candidates.h5" {
            #expect(two.outcome == .undecided)
            #expect(two.candidates.filter { (2...4).contains($0.rank) }.map(\.path) == ["/a", "/b/c"])
        }
        if name == "nexus.nxs" {
            #expect(try HDF5Inspection.run(path: path, name: path, image: nil, wanted: nil).outcome
                == .chosen(path: "/entry/data/counts", rule: "NeXus default"))
        }
    }

    /// Many opens at once from several threads (each forks while others are inside libhdf5):
    /// every one succeeds with the right pixels, none hangs in its child.
    @Test func concurrentOpensWhileOthersRead() async throws {
        let path = Fixture.path("hdf5/bslz4_stack.h5")
        let expected = try ImageFormat.hdf5.open(InputFile(path), .init()).frame(3).pixels
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<24 {
                group.addTask {
                    let source = try ImageFormat.hdf5.open(InputFile(path), .init())
                    var same = true
                    for i in 0..<source.layout.frameCount {
                        let pixels = try source.frame(i).pixels
                        if i == 3 { same = same && pixels == expected }
                    }
                    return same
                }
            }
            for try await same in group { #expect(same) }
        }
    }

    /// The cost of one probe (fork, open, choice, chunk walk, report, reap) on a small file.
    @Test func probeCost() throws {
        let path = Fixture.path("hdf5/bslz4_stack.h5")
        var seconds: [Double] = []
        for _ in 0..<40 {
            let inspection = try HDF5Inspection.run(path: path, name: path, image: nil, wanted: nil, probe: true)
            seconds.append(inspection.probeSeconds ?? .infinity)
        }
        seconds.sort()
        let median = seconds[seconds.count / 2]
        // For comparison: the same open and choice in this process (PEAKS_HDF5_PROBE=off).
        var here: [Double] = []
        for _ in 0..<40 {
            let start = Date()
            _ = try HDF5Inspection.run(path: path, name: path, image: nil, wanted: nil, probe: false)
            here.append(Date().timeIntervalSince(start))
        }
        here.sort()
        print("HDF5 probe: median \(median * 1000) ms, min \(seconds[0] * 1000) ms, max \(seconds.last! * 1000) ms over \(seconds.count); in-process open and choice: median \(here[here.count / 2] * 1000) ms")
        #expect(median < 0.25)
    }
}
