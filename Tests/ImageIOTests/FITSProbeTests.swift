import Foundation
@testable import ImageIO
import PeakKit
import Testing

/// The FITS header probe (Sources/CFITSIO/probe.h, `FITSProbe` in FITS.swift): cfitsio's header
/// calls run first in a fork()ed child, so a forged header that crashes cfitsio is a one-line
/// error. The known crashes are also refused by `FITS.checkTileKeywords` before the probe runs;
/// here the probe gets them directly, as it would get a forged header no check knows of yet.
@Suite("FITS probe")
struct FITSProbeTests {
    static let known = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/Known/FuzzFITS")
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fits")

    /// Headers that crash cfitsio 4.2.0 while it counts the HDUs, and how.
    static let crashing: [(file: String, signal: String)] = [
        ("crash-b5509c9f710724d437922b63f2aacf55844ed1fc", "signal 8, SIGFPE"),   // ZTILE2 = 0 behind "END  ="
        ("crash-793d22da780b8afef10d39511227760d041ef35b", "signal 6, SIGABRT"),  // TTYPE1 overflow (_FORTIFY_SOURCE)
        ("crash-54a25a485926985c5459f27fa0cd5735128ca96d", "signal 8, SIGFPE"),   // RICE_1 BLOCKSIZE = 0
    ]

    @Test(arguments: 0..<3)
    func aHeaderThatCrashesCfitsioIsCorruptOnDiskAndInMemory(_ k: Int) throws {
        let (name, signal) = Self.crashing[k]
        let path = Self.known.appendingPathComponent(name).path
        expectFileError(path: path, contains: "corrupt FITS header (cfitsio crashed parsing it: \(signal))") {
            try FITSProbe.run(InputFile(path), probe: true)
        }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        expectFileError(path: "m.fits", contains: "corrupt FITS header (cfitsio crashed parsing it: \(signal))") {
            try FITSProbe.run(InputFile(bytes: bytes, name: "m.fits"), probe: true)
        }
    }

    /// Every valid fixture passes the probe (and then opens), on disk and in memory.
    @Test func validFilesPass() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).sorted()
        let valid = ["cube.fits", "float32.fits", "int16_blank.fits", "multi_hdu.fits", "rice.fits", "uint16_bzero.fits"]
        #expect(Set(valid).isSubset(of: Set(names)))
        for name in valid {
            let path = Self.fixtures.appendingPathComponent(name).path
            let seconds = try FITSProbe.run(InputFile(path), probe: true)
            #expect(seconds != nil && seconds! < 5, "\(name)")
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(try FITSProbe.run(InputFile(bytes: bytes, name: name), probe: true) != nil)
            _ = try ImageFormat.fits.open(InputFile(path), .init()).frame(0)
        }
    }

    /// A child past the timeout is killed and the file reported, naming the setting.
    @Test func aChildPastTheTimeoutIsKilled() throws {
        let path = Self.fixtures.appendingPathComponent("rice.fits").path
        expectFileError(path: path, contains: "did not finish parsing it within 1e-06 s; PEAKS_FITS_PROBE_TIMEOUT sets the limit") {
            try FITSProbe.run(InputFile(path), timeout: 1e-6, probe: true)
        }
    }

    /// Probes from several threads while other threads open, read and close FITS files through
    /// cfitsio: the parent holds cfitsio's lock across fork(), so no child inherits it taken and
    /// every probe finishes (a child stuck on the lock would be reported at the 10 s timeout).
    @Test func probesRunWhileOtherThreadsUseCfitsio() async throws {
        let path = Self.fixtures.appendingPathComponent("cube.fits").path
        let crash = Self.known.appendingPathComponent(Self.crashing[0].file).path
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<4 {
                group.addTask {
                    for _ in 0..<15 {
                        if t % 2 == 0 {
                            #expect(try FITSProbe.run(InputFile(path), probe: true) != nil)
                            #expect(throws: PeaksError.self) { try FITSProbe.run(InputFile(crash), probe: true) }
                        } else {
                            let source = try ImageFormat.fits.open(InputFile(path), .init())
                            for i in 0..<source.layout.frameCount { _ = try source.frame(i) }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// What the probe costs per file (printed; not timed by the test).
    @Test func cost() throws {
        let path = Self.fixtures.appendingPathComponent("rice.fits").path
        var times: [Double] = []
        for _ in 0..<20 { times.append(try FITSProbe.run(InputFile(path), probe: true) ?? 0) }
        times.sort()
        print("FITS probe: median \(times[10] * 1000) ms per file (rice.fits, 20 runs)")
    }
}
