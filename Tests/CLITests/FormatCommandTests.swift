import Foundation
import Testing

/// The same pixels in every format give exactly the peaks they give as NPY (the CSV tables,
/// which carry no file name, are compared byte for byte), for single images and stacks.
@Suite struct FormatsThroughTheCLI {
    static let fixtures = "Tests/ImageIOTests/Fixtures/"

    func csv(_ arguments: [String]) throws -> String {
        let r = try PeaksExecutable.run(["detect"] + arguments + ["--format", "csv"])
        #expect(r.status == 0, "\(arguments): \(r.stderr)")
        return r.stdout
    }

    @Test(arguments: [
        ["tiff/uint16.tif"], ["tiff/float32_deflate.tif"], ["tiff/uint16_lzw_tiled_pred.tif"],
        ["tiff/uint16_bigtiff_deflate.tif"], ["tiff/uint16_packbits.tif"], ["tiff/uint16_zstd.tif"],
        ["fits/uint16_bzero.fits"],
        ["hdf5/gzip2d.h5"], ["hdf5/gzip2d.h5", "--dataset", "/data"],
    ])
    func singleImagesEqualNPY(_ file: [String]) throws {
        let reference = try csv([Self.fixtures + "reference.npy"])
        #expect(reference.split(separator: "\n").count > 3)
        for algo in ["persistence", "log"] {
            let got = try csv([Self.fixtures + file[0]] + file.dropFirst() + ["--algo", algo])
            let want = algo == "persistence" ? reference : try csv([Self.fixtures + "reference.npy", "--algo", algo])
            #expect(got == want, "\(file) with \(algo)")
        }
    }

    @Test(arguments: ["tiff/stack6.tif", "tiff/stack6_imagej.tif", "tiff/stack6.ome.tif", "fits/cube.fits", "hdf5/bslz4_stack.h5"])
    func stacksEqualNPY(_ file: String) throws {
        let want = try csv([Self.fixtures + "stack.npy"])
        #expect(Set(want.split(separator: "\n").dropFirst().map { $0.split(separator: ",")[0] }).count == 6)
        #expect(try csv([Self.fixtures + file]) == want)
    }

    @Test func fourDScanFromHDF5EqualsNPY() throws {
        let want = try csv([Self.fixtures + "scan.npy"])
        #expect(want.hasPrefix("frame,scan_y,scan_x,"))
        #expect(try csv([Self.fixtures + "hdf5/scan4d.h5"]) == want)
        // --scan regroups a 3-D stack as a scan.
        let regrouped = try csv([Self.fixtures + "stack.npy", "--scan", "3x2"])
        #expect(regrouped.hasPrefix("frame,scan_y,scan_x,"))
    }

    /// A truncated TIFF, a missing HDF5 dataset, a cut file: exit 1, one line, no output file.
    @Test func badFilesFailCleanly() throws {
        let dir = try temporaryFolder()
        let good = try Data(contentsOf: PeaksExecutable.packageRoot.appendingPathComponent(Self.fixtures + "tiff/uint16.tif"))
        let cut = dir.appendingPathComponent("cut.tif")
        try good.prefix(good.count / 2).write(to: cut)
        let out = dir.appendingPathComponent("p.csv").path
        for args in [[cut.path], [Self.fixtures + "hdf5/gzip2d.h5", "--dataset", "/no/such"], [Self.fixtures + "hdf5/two_candidates.h5"]] {
            let r = try PeaksExecutable.run(["detect"] + args + ["-o", out])
            #expect(r.status == 1, "\(args): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    /// Files whose forged HDF5 metadata crashes, hangs or overflows libhdf5 1.10.8 (the fuzzers'
    /// inputs in Fuzz/Known): exit 1, one line naming the file, no output file. The slow one is
    /// stopped by a 1 s probe timeout.
    @Test func forgedHDF5MetadataFailsCleanly() throws {
        let dir = try temporaryFolder()
        let known = PeaksExecutable.packageRoot.appendingPathComponent("Fuzz/Known")
        var inputs: [String] = []
        for folder in ["FuzzHDF5", "FuzzHDF5-leaks", "FuzzHDF5-oom", "FuzzHDF5-slow"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: known.appendingPathComponent(folder).path)) ?? []
            inputs += names.sorted().map { "Fuzz/Known/\(folder)/\($0)" }
        }
        #expect(inputs.count >= 8)
        let out = dir.appendingPathComponent("p.csv").path
        for input in inputs {
            let r = try PeaksExecutable.run(["detect", input, "-o", out], environment: ["PEAKS_HDF5_PROBE_TIMEOUT": "1"])
            #expect(r.status == 1, "\(input): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(input), "\(input): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
            if input.contains("crash-cd8544a0") { #expect(r.stderr.contains("corrupt HDF5 metadata (libhdf5 crashed parsing it: signal 11")) }
            if input.contains("-slow/") { #expect(r.stderr.contains("did not finish parsing it within 1 s")) }
        }
        #expect(files(in: dir).isEmpty)
    }

    /// Every FITS input that crashed cfitsio under the fuzzer (Fuzz/Known/FuzzFITS) through
    /// `peaks detect`: exit 1, one line naming the file, no output file; never a crash.
    @Test func forgedFITSHeadersFailCleanly() throws {
        let dir = try temporaryFolder()
        let folder = PeaksExecutable.packageRoot.appendingPathComponent("Fuzz/Known/FuzzFITS")
        let inputs = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map { "Fuzz/Known/FuzzFITS/\($0)" }
        #expect(inputs.count >= 5)
        let out = dir.appendingPathComponent("p.csv").path
        for input in inputs {
            let r = try PeaksExecutable.run(["detect", input, "-o", out])
            #expect(r.status == 1, "\(input): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(input), "\(input): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
        // With the header checks' known cases refused first, the probe is what stands between a
        // new forged header and cfitsio; with the probe off the same files are still refused
        // by the checks (so both layers are exercised).
        for input in inputs {
            let r = try PeaksExecutable.run(["detect", input, "-o", out], environment: ["PEAKS_FITS_PROBE": "off"])
            #expect(r.status == 1, "\(input) without the probe: \(r.stderr)")
        }
        #expect(files(in: dir).isEmpty)
    }

    /// MIB streams (8 and 9 frames, the 4x2 scan from the .hdr), DM stacks and MRC stacks give the
    /// table of their reference pixels (written by rosettasciio / mrcfile) as NPY, frame by frame.
    @Test(arguments: [
        "mib/003_merlin_test_roi_sig256x64_nav4x2_hot_pixel_52x_39y.mib", "mib/Single_9_Frame_CounterDepth_1_Rows_256RAW.mib",
        "dm/test_stackbuilder_imagestack.dm3", "dm/test_STEM_image.dm3",
    ])
    func fieldFilesEqualTheirReferencePixels(_ file: String) throws {
        let got = try csv([Self.fixtures + file])
        var want = try csv([Self.fixtures + file + ".npy"])
        if got.hasPrefix("frame,scan_y,scan_x,") && want.hasPrefix("frame,x,") {
            // The MIB's .hdr gives a scan grid the reference stack lacks: compare on the same grid.
            let r = try PeaksExecutable.run(["detect", Self.fixtures + file, "--format", "json"])
            let root = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            let image = try #require(root["image"] as? [String: Any])
            let w = try #require(image["scan_width"] as? Int), h = try #require(image["scan_height"] as? Int)
            want = try csv([Self.fixtures + file + ".npy", "--scan", "\(w)x\(h)"])
        }
        #expect(got == want, "\(file)")
        #expect(got.split(separator: "\n").count > 1)
    }

    @Test func formatsListsEveryReader() throws {
        let r = try PeaksExecutable.run(["formats"])
        for name in ["PNG", "NPY", "TIFF", "HDF5", "FITS", "MRC", "MIB", "DM"] { #expect(r.stdout.contains(name)) }
    }
}

/// libhdf5, libcfitsio, libcairo and libtiff (and the 50 libraries they pull in) are loaded on first use
/// (Sources/_PeaksLazyLibraries): a PNG detection maps none of them, and each is mapped exactly
/// when a file or a picture needs it. The dynamic loader's own log (LD_DEBUG=files) is the truth.
@Suite struct LazyLibraries {
    static let lazy = ["libhdf5", "libcfitsio", "libcairo", "libtiff"]

    func loaded(_ arguments: [String]) throws -> Set<String> {
        let r = try PeaksExecutable.run(arguments + ["--format", "csv"], environment: ["LD_DEBUG": "files"])
        #expect(r.status == 0, "\(arguments): \(r.stderr.suffix(300))")
        return Set(Self.lazy.filter { r.stderr.contains("file=\($0)") })
    }

    @Test func eachLibraryLoadsOnlyWhenNeeded() throws {
        let fixtures = FormatsThroughTheCLI.fixtures
        #expect(try loaded(["detect", fixtures + "reference.npy"]) == [])
        #expect(try loaded(["detect", "samples/lattice.png"]) == [])
        #expect(try loaded(["detect", fixtures + "hdf5/gzip2d.h5"]) == ["libhdf5"])
        #expect(try loaded(["detect", fixtures + "fits/uint16_bzero.fits"]) == ["libcfitsio"])
        #expect(try loaded(["detect", fixtures + "tiff/uint16_lzw_tiled_pred.tif"]) == ["libtiff"])
        let overlay = FileManager.default.temporaryDirectory.appendingPathComponent("peaks-lazy-\(getpid()).png").path
        defer { try? FileManager.default.removeItem(atPath: overlay) }
        #expect(try loaded(["detect", "samples/lattice.png", "--overlay", overlay]) == ["libcairo"])
        #expect(FileManager.default.fileExists(atPath: overlay))
    }
}
