#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ImageIO
import PeakKit

/// User data for `peaks evaluate --dataset DIR`.
///
/// Every sub-folder of DIR (sorted by name; hidden ones ignored) is one case:
/// - `truth.json` (see `TruthFile`); a folder without it, or whose truth has no peaks, is
///   skipped with a note;
/// - one image: `image.npy`, else `image.png`, else the first other `.npy`, else the first other
///   `.png` by name (NPY is preferred because it holds exact values); masks are not candidates;
/// - optionally `mask.png` or `mask.npy` (non-zero = valid), of the image's shape.
public enum Dataset {
    public static func load(_ folder: String) throws -> (cases: [EvaluationCase], notes: [String]) {
        let fm = FileManager.default
        var isDir = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDir) else {
            throw PeaksError.file(path: folder, reason: "dataset folder does not exist")
        }
        guard isDir else { throw PeaksError.file(path: folder, reason: "is not a folder") }
        let names = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        var cases: [EvaluationCase] = []
        var notes: [String] = []
        for name in names {
            let dir = folder + "/" + name
            guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir else { continue }
            let truthPath = dir + "/truth.json"
            guard fm.fileExists(atPath: truthPath) else {
                notes.append("skipping \(dir): no truth.json")
                continue
            }
            let truthBytes = try ImageFile.readBytes(truthPath)
            let truth = try TruthFile.parse(truthBytes, path: truthPath)
            guard !truth.peaks.isEmpty else {
                notes.append("skipping \(dir): truth.json has no peaks")
                continue
            }
            let files = ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted()
            let lower = files.map { $0.lowercased() }
            func pick() -> String? {
                for wanted in ["image.npy", "image.png"] { if let i = lower.firstIndex(of: wanted) { return files[i] } }
                for ext in [".npy", ".png"] {
                    if let i = lower.indices.first(where: { lower[$0].hasSuffix(ext) && !lower[$0].hasPrefix("mask.") }) { return files[i] }
                }
                return nil
            }
            guard let imageName = pick() else {
                throw PeaksError.file(path: dir, reason: "has truth.json but no image (.npy or .png)")
            }
            let imagePath = dir + "/" + imageName
            let imageBytes = try ImageFile.readBytes(imagePath)
            let image = try ImageFile.decode(imageBytes, path: imagePath)
            guard image.width > 0 && image.height > 0 else {
                throw PeaksError.file(path: imagePath, reason: "the image is empty")
            }
            var inputs = [InputRecord(path: truthPath, sha256: SHA256.hex(truthBytes)),
                          InputRecord(path: imagePath, sha256: SHA256.hex(imageBytes))]
            var mask: Mask? = nil
            if let m = ["mask.png", "mask.npy"].first(where: { lower.contains($0) }), let i = lower.firstIndex(of: m) {
                let maskPath = dir + "/" + files[i]
                mask = try ImageFile.readMask(maskPath, for: image)
                inputs.append(InputRecord(path: maskPath, sha256: SHA256.hex(try ImageFile.readBytes(maskPath))))
            }
            cases.append(EvaluationCase(name: name, className: "dataset", image: image, mask: mask, truth: truth.peaks, inputs: inputs))
        }
        guard !cases.isEmpty else {
            throw PeaksError.file(path: folder, reason: "no sub-folder holds a truth.json with peaks and an image")
        }
        return (cases, notes)
    }
}
