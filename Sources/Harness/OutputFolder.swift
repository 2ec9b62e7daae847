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
import PeakKit

/// Writes a set of files into a folder all-or-nothing.
///
/// Everything is first written into a temporary sibling folder (`.NAME.tmp-PID`). Then, if the
/// destination does not exist, the temporary folder is renamed to it; if it exists and
/// `replaceable` accepts its current contents (for example an earlier run's outputs), it is
/// renamed aside, the new folder renamed into place and the old one removed. On any failure the
/// temporary folder is removed and the destination is left as it was.
public enum OutputFolder {
    /// - Parameters:
    ///   - files: paths relative to `folder` (sub-folders are created) and their bytes.
    ///   - replaceable: given the names in an existing destination, whether it may be replaced.
    ///   - what: how to call the folder in errors ("evaluation folder").
    public static func write(
        _ files: [(path: String, bytes: [UInt8])], to folder: String, what: String,
        replaceable: ([String]) -> Bool
    ) throws {
        let fm = FileManager.default
        let url = URL(fileURLWithPath: folder).standardizedFileURL
        let parent = url.deletingLastPathComponent().path
        var isDir = false
        guard fm.fileExists(atPath: parent, isDirectory: &isDir), isDir else {
            throw PeaksError.file(path: folder, reason: "cannot write: folder '\(parent)' does not exist")
        }
        var exists = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            guard isDir else { throw PeaksError.file(path: folder, reason: "exists and is not a folder") }
            let names = ((try? fm.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
            guard replaceable(names) else {
                throw PeaksError.file(path: folder, reason: "exists and is not a \(what) (refusing to replace it; choose another --out)")
            }
            exists = true
        }
        let name = url.lastPathComponent
        let tmp = parent + "/." + name + ".tmp-\(getpid())"
        let old = parent + "/." + name + ".old-\(getpid())"
        try? fm.removeItem(atPath: tmp)
        do {
            try fm.createDirectory(atPath: tmp, withIntermediateDirectories: false)
            for f in files {
                let target = URL(fileURLWithPath: tmp + "/" + f.path)
                try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(f.bytes).write(to: target)
            }
            if exists {
                guard rename(url.path, old) == 0 else { throw PeaksError.file(path: folder, reason: "cannot replace: \(String(cString: strerror(errno)))") }
                guard rename(tmp, url.path) == 0 else {
                    let message = String(cString: strerror(errno))
                    _ = rename(old, url.path)
                    throw PeaksError.file(path: folder, reason: "cannot write: \(message)")
                }
                try? fm.removeItem(atPath: old)
            } else {
                guard rename(tmp, url.path) == 0 else { throw PeaksError.file(path: folder, reason: "cannot write: \(String(cString: strerror(errno)))") }
            }
        } catch let error as PeaksError {
            try? fm.removeItem(atPath: tmp)
            throw error
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw PeaksError.file(path: folder, reason: "cannot write: \(PeaksError.systemReason(error))")
        }
    }
}
