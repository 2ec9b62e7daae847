import Dispatch
import Foundation
import ImageIO
import PeakKit
import Synchronization

/// Runs one job per frame of a stack on all cores and hands the results back **in frame order**,
/// holding at most `window` frames' results (and `threads` frames' pixels) at a time: memory does
/// not grow with the number of frames, and outputs do not depend on the thread count.
///
/// Workers take frame numbers from a shared counter, read the frame (`FrameSource.readFrame`),
/// run `work`, and park the result in a slot; the calling thread delivers results as soon as the
/// next frame in order is ready. A worker that gets ahead by `window` frames waits.
public enum FrameStream {
    /// What a run reports as it goes (for a progress bar).
    public struct Progress: Sendable {
        public let done: Int
        public let total: Int
        public let elapsed: Double
    }

    /// Processes frames `0 ..< source.layout.frameCount` restricted to `range`.
    ///
    /// - Parameters:
    ///   - source: The frames.
    ///   - range: Which frames (indices of `source`).
    ///   - threads: Worker threads (0 = one per core).
    ///   - work: The job for one frame: (index, pixels) -> result. Runs on worker threads.
    ///   - deliver: Receives (index, result) in increasing index order, on the calling thread.
    ///   - progress: Called on the calling thread after each delivery.
    /// - Throws: The first error of a frame (in frame order) or of `deliver`; the remaining
    ///   frames are abandoned.
    public static func run<R: Sendable>(
        source: any FrameSource, range: Range<Int>? = nil, threads: Int = 0,
        work: @escaping @Sendable (Int, Image) throws -> R,
        deliver: (Int, R) throws -> Void,
        progress: ((Progress) -> Void)? = nil
    ) throws {
        let frames = range ?? 0..<source.layout.frameCount
        guard !frames.isEmpty else { return }
        let workers = max(1, min(threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount, frames.count))
        let window = max(4, workers * 4)
        let start = DispatchTime.now().uptimeNanoseconds
        let state = StreamState<R>(first: frames.lowerBound, end: frames.upperBound, window: window)

        let group = DispatchGroup()
        let queue = DispatchQueue.global(qos: .userInitiated)
        for _ in 0..<workers {
            group.enter()
            queue.async {
                defer { group.leave() }
                let layout = source.layout
                var pixels = [Float](repeating: 0, count: layout.pixelsPerFrame)
                while let index = state.claim() {
                    let outcome: Result<R, Error>
                    do {
                        try pixels.withUnsafeMutableBufferPointer { try source.readFrame(index, into: $0) }
                        let image = Image(width: layout.width, height: layout.height, pixels: pixels)
                        outcome = .success(try work(index, image))
                    } catch {
                        outcome = .failure(error)
                    }
                    state.finish(index, outcome)
                }
            }
        }
        defer {
            state.cancel()
            group.wait()
        }
        var next = frames.lowerBound
        while next < frames.upperBound {
            let outcome = state.take(next)
            switch outcome {
            case .success(let r): try deliver(next, r)
            case .failure(let e): throw e
            }
            next += 1
            if let progress {
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                progress(Progress(done: next - frames.lowerBound, total: frames.count, elapsed: elapsed))
            }
        }
    }
}

/// The shared bookkeeping of a stream: the next frame to claim, the finished results waiting to
/// be delivered, and the delivery cursor. All access goes through one mutex and condition.
final class StreamState<R: Sendable>: @unchecked Sendable {
    // Safe: every stored property is read and written only with `condition` locked.
    private let condition = NSCondition()
    private var nextClaim: Int
    private let end: Int
    private let window: Int
    private var delivered: Int
    private var ready: [Int: Result<R, Error>] = [:]
    private var cancelled = false

    init(first: Int, end: Int, window: Int) {
        nextClaim = first
        delivered = first
        self.end = end
        self.window = window
    }

    /// The next frame to process, or nil when none is left (or the run was cancelled). Waits
    /// while the worker would get more than `window` frames ahead of delivery.
    func claim() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled && nextClaim < end && nextClaim - delivered >= window { condition.wait() }
        guard !cancelled, nextClaim < end else { return nil }
        nextClaim += 1
        return nextClaim - 1
    }

    func finish(_ index: Int, _ outcome: Result<R, Error>) {
        condition.lock()
        ready[index] = outcome
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for frame `index`'s result and removes it.
    func take(_ index: Int) -> Result<R, Error> {
        condition.lock()
        defer { condition.unlock() }
        while ready[index] == nil { condition.wait() }
        let r = ready.removeValue(forKey: index)!
        delivered = index + 1
        condition.broadcast()
        return r
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
