import Dispatch
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ImageIO
import PeakKit
import Synchronization

/// Runs one job per frame of a stack on all cores and hands the results back **in frame order**,
/// holding at most `window` frames' results (and `threads` frames' pixels) at a time: memory does
/// not grow with the number of frames, and outputs do not depend on the thread count.
///
/// Workers take runs of consecutive frame numbers from a shared counter (several small frames at
/// a time, up to about 64 K pixels, so that small frames do not pay a lock and a wake-up each),
/// read each frame (`FrameSource.readFrame`), run `work`, and park the results; the calling
/// thread delivers results as soon as the next frame in order is ready. A worker that gets ahead
/// by `window` frames waits. Threads are woken only when what they wait for has happened (the
/// frame the caller waits for is parked; room in the window after a delivery).
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
        let batch = max(1, min(16, (1 << 16) / max(1, source.layout.pixelsPerFrame)))
        let window = max(4, workers * 4 * batch)
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
                var outcomes: [Result<R, Error>] = []
                outcomes.reserveCapacity(batch)
                while let indices = state.claim(upTo: batch) {
                    for index in indices {
                        let outcome: Result<R, Error>
                        do {
                            try pixels.withUnsafeMutableBufferPointer { try source.readFrame(index, into: $0) }
                            let image = Image(width: layout.width, height: layout.height, pixels: pixels)
                            outcome = .success(try work(index, image))
                        } catch {
                            outcome = .failure(error)
                        }
                        outcomes.append(outcome)
                    }
                    state.finish(indices, outcomes)
                    outcomes.removeAll(keepingCapacity: true)
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
    private let condition = Condition()
    private var nextClaim: Int
    private let end: Int
    private let window: Int
    private var delivered: Int
    private var ready: [Int: Result<R, Error>] = [:]
    private var cancelled = false
    /// The frame the delivering thread waits for (nil when it is not waiting).
    private var awaited: Int?
    /// Workers waiting for room in the window.
    private var blocked = 0

    init(first: Int, end: Int, window: Int) {
        nextClaim = first
        delivered = first
        self.end = end
        self.window = window
    }

    /// The next frames to process (at most `count`, consecutive), or nil when none is left (or
    /// the run was cancelled). Waits while the worker would get more than `window` frames ahead
    /// of delivery.
    func claim(upTo count: Int) -> Range<Int>? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled && nextClaim < end && nextClaim - delivered >= window {
            blocked += 1
            condition.wait()
            blocked -= 1
        }
        guard !cancelled, nextClaim < end else { return nil }
        let first = nextClaim
        nextClaim = min(end, first + count, delivered + window)
        return first..<nextClaim
    }

    func finish(_ indices: Range<Int>, _ outcomes: [Result<R, Error>]) {
        condition.lock()
        for (index, outcome) in zip(indices, outcomes) { ready[index] = outcome }
        if let a = awaited, indices.contains(a) { condition.broadcast() }
        condition.unlock()
    }

    /// Waits for frame `index`'s result and removes it.
    func take(_ index: Int) -> Result<R, Error> {
        condition.lock()
        defer { condition.unlock() }
        while ready[index] == nil {
            awaited = index
            condition.wait()
        }
        awaited = nil
        let r = ready.removeValue(forKey: index)!
        delivered = index + 1
        if blocked > 0 { condition.broadcast() }
        return r
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
