#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ImageIO
import PeakKit

/// One case of the real-image corpus (Golden/real/NAME: `image.npy` and `truth.json`, built
/// without peaks; Golden/real/README.md), scored as Benchmarks/reference/score_peaks.py scores
/// the peers: one-to-one matching at the case's tolerance, detections matched to an "ignore"
/// point dropped (neither TP nor FP).
public struct RealCorpusCase: Sendable {
    public var name: String
    public var image: Image
    public var truth: [Point]
    public var ignore: [Point]
    /// Matching distance in px.
    public var tolerance: Double
    /// "center" for the pattern-centre cases (scored elsewhere), else nil.
    public var task: String?
    /// The objects' Gaussian sigma in px that the peers are given (truth.json `spot_sigma`),
    /// nil for the centre cases.
    public var spotSigma: Double?

    /// Reads case `name` under `root` (the Golden/real folder).
    public init(_ name: String, root: URL) throws {
        let dir = root.appendingPathComponent(name)
        let json = try JSONValue.parse(Array(Data(contentsOf: dir.appendingPathComponent("truth.json"))))
        guard let tolerance = json["tolerance"]?.number else {
            throw PeaksError.file(path: dir.appendingPathComponent("truth.json").path, reason: "not a truth.json with a tolerance")
        }
        func points(_ key: String) -> [Point] {
            (json[key]?.array ?? []).compactMap {
                guard let x = $0["x"]?.number, let y = $0["y"]?.number else { return nil }
                return Point(x: x, y: y)
            }
        }
        self.name = name
        self.image = try ImageFile.read(dir.appendingPathComponent("image.npy").path)
        self.truth = points("peaks")
        self.ignore = points("ignore")
        self.tolerance = tolerance
        self.task = json["task"]?.string
        self.spotSigma = json["spot_sigma"]?.number
    }

    /// The names of the peak-finding cases under `root` (those with a truth.json whose task is
    /// not "center"), sorted.
    public static func names(root: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { name in
            guard let d = try? Data(contentsOf: root.appendingPathComponent("\(name)/truth.json")),
                  let j = try? JSONValue.parse(Array(d)), j.object != nil else { return false }
            return j["task"]?.string != "center"
        }.sorted()
    }

    /// The scores of `peaks` against the truth.
    public func score(_ peaks: [Peak]) -> Scores {
        score(peaks.map { Point(x: $0.x, y: $0.y) })
    }

    /// The scores of detections given as points (e.g. a peer's) against the truth.
    public func score(_ detections: [Point]) -> Scores {
        Scores(detections: detections, truth: truth, ignore: ignore, tolerance: tolerance)
    }
}
