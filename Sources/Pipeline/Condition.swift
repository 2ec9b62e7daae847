#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex with one condition variable (POSIX threads), the `NSCondition` of Foundation, which
/// peaks does not link (it links FoundationEssentials only; docs/performance.md, "Session 24").
/// `wait` must be called with the lock held and may return spuriously: callers wait in a loop
/// on their own predicate.
final class Condition: @unchecked Sendable {
    // Safe: the pthread objects are used only through their own locking calls, and live at
    // fixed heap addresses (pthread objects must not move).
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        precondition(pthread_mutex_init(mutex, nil) == 0 && pthread_cond_init(cond, nil) == 0, "pthread initialisation failed")
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    /// Releases the lock, sleeps until a `broadcast` (or spuriously), and takes the lock again.
    func wait() { pthread_cond_wait(cond, mutex) }
    /// Wakes every thread in `wait`.
    func broadcast() { pthread_cond_broadcast(cond) }
}
