/// Small dense linear systems, for the least-squares fits of peak refinement.
public enum LinearSystem {
    /// Solves A x = b (A n x n, row-major, n = b.count) by Gaussian elimination with partial
    /// pivoting; nil when a pivot is not larger than 1e-12 x max|A| (singular or nearly so) or
    /// not a number.
    public static func solve(_ matrix: [Double], _ rhs: [Double]) -> [Double]? {
        let n = rhs.count
        precondition(matrix.count == n * n, "LinearSystem.solve: \(matrix.count) coefficients for \(n) unknowns")
        var a = matrix, b = rhs
        var scale = 0.0
        for v in a { scale = max(scale, abs(v)) }
        for col in 0..<n {
            var pivot = col
            for r in (col + 1)..<n where abs(a[r * n + col]) > abs(a[pivot * n + col]) { pivot = r }
            if !(abs(a[pivot * n + col]) > 1e-12 * scale) { return nil }
            if pivot != col {
                for k in 0..<n { a.swapAt(col * n + k, pivot * n + k) }
                b.swapAt(col, pivot)
            }
            for r in (col + 1)..<n {
                let factor = a[r * n + col] / a[col * n + col]
                if factor == 0 { continue }
                for k in col..<n { a[r * n + k] -= factor * a[col * n + k] }
                b[r] -= factor * b[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var s = b[r]
            for k in (r + 1)..<n { s -= a[r * n + k] * x[k] }
            x[r] = s / a[r * n + r]
        }
        return x
    }
}
