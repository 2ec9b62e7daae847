import Filters
import ArgumentParser
import Correlation
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
import ImageIO
import PeakKit
import Spectral

/// `peaks match`: where a template fits an image best (normxcorr2).
struct Match: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "match",
        abstract: "Find a template in an image by normalised cross-correlation (normxcorr2).",
        discussion: """
            Lewis' fast normalised cross-correlation of TEMPLATE over IMAGE (values in [-1, 1], 0 \
            where the image is flat). The offset (dx, dy) is where the template's top-left pixel lands \
            in the image: image(x + dx, y + dy) ~ template(x, y); also "offset_rc": [dy, dx]. \
            "peak" is the correlation there (the fit quality).

            Modes: valid (template inside the image; default), same (as many placements as image \
            pixels, centred), full (every placement with overlap; the image is 0 outside).

            --debug-dir DIR writes template.png, image.png, correlation.png (16-bit, 0 = -1, \
            65535 = +1) and match.json (the peak's map position, magnitude and the offset).

            Examples:
              peaks match spot.png frame.png
              peaks match tpl.npy frame.npy --mode full --debug-dir debug/
            """)

    @Argument(help: "The template (PNG or NPY), at most as large as the image for mode valid.")
    var template: String

    @Argument(help: "The image to search (PNG or NPY).")
    var image: String

    @Option(help: ArgumentHelp("Placements: valid, same or full.", valueName: "valid|same|full"))
    var mode: ConvolutionMode = .valid

    @Option(help: ArgumentHelp("Subpixel peak location: poly_fit, diff or none.", valueName: "method"))
    var subpixel: PeakFitMethod = .polyFit

    @Option(name: .customLong("debug-dir"), help: ArgumentHelp("Write the template, the image, the correlation map (PNG) and the peak (JSON) into this folder.", valueName: "dir"))
    var debugDir: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the JSON to this file instead of standard output.", valueName: "file"))
    var output: String?

    func run() throws {
        let debugFiles = debugDir.map { d in ["template.png", "image.png", "correlation.png", "match.json"].map { d.hasSuffix("/") ? d + $0 : d + "/" + $0 } } ?? []
        try CommandInput.checkOutputs([output].compactMap { $0 } + debugFiles, inputs: [template, image])
        let t = try CommandInput.image(template)
        let f = try CommandInput.image(image)
        let m = try NormXCorr2.match(template: t, image: f, mode: mode, subpixel: subpixel)
        var doc = JSONDocument()
        doc.add("schema", .string("peaks.match/1"))
        doc.add("template", object: CommandInput.describe(template, t))
        doc.add("image", object: CommandInput.describe(image, f))
        doc.add("mode", .string(mode.rawValue))
        doc.add("convention", .string("(dx, dy) is where the template's top-left pixel lands: image(x + dx, y + dy) ~ template(x, y)"))
        doc.add("dx", .number(m.dx))
        doc.add("dy", .number(m.dy))
        doc.add("offset_rc", numbers: [m.dy, m.dx])
        doc.add("pixel_dx", .integer(m.pixelDX))
        doc.add("pixel_dy", .integer(m.pixelDY))
        doc.add("peak", .number(m.peak))
        doc.add("fitted_peak", .number(m.fittedPeak))
        doc.add("subpixel", .string(subpixel.rawValue))
        doc.add("subpixel_fell_back", .bool(m.subpixelFellBack))
        doc.add("map", object: [("width", .integer(m.map.width)), ("height", .integer(m.map.height)),
                                ("origin_x", .integer(m.map.originX)), ("origin_y", .integer(m.map.originY))])

        var files: [(path: String, bytes: [UInt8])] = []
        if debugDir != nil {
            func picture(_ img: Image) throws -> [UInt8] {
                let lo = img.pixels.min() ?? 0, hi = img.pixels.max() ?? 1
                let map = ImageEncoding.linearMap(from: lo, to: hi > lo ? hi : lo + 1, maxValue: 65535)
                return try ImageEncoding.png16(img, scale: map.scale, offset: map.offset)
            }
            var debug = JSONDocument()
            debug.add("schema", .string("peaks.match-debug/1"))
            debug.add("peak_col", .integer(m.pixelDX - m.map.originX))
            debug.add("peak_row", .integer(m.pixelDY - m.map.originY))
            debug.add("magnitude", .number(m.peak))
            debug.add("dx", .number(m.dx))
            debug.add("dy", .number(m.dy))
            debug.add("offset_rc", numbers: [m.dy, m.dx])
            debug.add("correlation_png", .string("16-bit: value = -1 + 2 * level / 65535"))
            files = [
                (debugFiles[0], try picture(t)),
                (debugFiles[1], try picture(f)),
                (debugFiles[2], try ImageEncoding.png16(m.map.image, scale: 65535.0 / 2, offset: 65535.0 / 2)),
                (debugFiles[3], Array(debug.text.utf8)),
            ]
        }
        // The debug folder is made (one level, like mkdir) only now that everything is computed,
        // and removed again if the outputs cannot be written: a failed run leaves nothing.
        var madeFolder = false
        if let debugDir {
            var st = stat()
            if stat(debugDir, &st) != 0 {
                guard mkdir(debugDir, 0o755) == 0 else {
                    throw PeaksError.file(path: debugDir, reason: "cannot create the debug folder: \(String(cString: strerror(errno)))")
                }
                madeFolder = true
            } else if (st.st_mode & S_IFMT) != S_IFDIR {
                throw PeaksError.file(path: debugDir, reason: "cannot write the debug files: it exists and is not a folder")
            }
        }
        do {
            try CommandInput.finish(text: doc.text, output: output, files: files)
        } catch {
            if madeFolder, let debugDir { rmdir(debugDir) }
            throw error
        }
    }
}
