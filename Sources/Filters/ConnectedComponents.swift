import PeakKit

/// Which neighbours join pixels into one component.
public enum Connectivity: String, Sendable, CaseIterable {
    /// Edge neighbours only: (x +- 1, y), (x, y +- 1).
    case four
    /// Edge and corner neighbours: the 8 pixels around.
    case eight
}

/// Connected-component labelling of a binary image.
///
/// Two-pass union-find (Rosenfeld & Pfaltz 1966; Wu, Otoo & Suzuki 2009): the first raster pass
/// gives each set pixel the provisional label of an already visited neighbour (left, up, and for
/// 8-connectivity up-left and up-right) or a new one, and unites the labels of all such
/// neighbours; the union keeps the smaller label as root, with path halving on finds. The second
/// pass replaces each provisional label by its root's final number. O(N alpha(N)), in practice
/// linear; memory: the Int32 label image plus one Int32 per provisional label.
///
/// Numbering: background (false) pixels get 0; components get 1...count in the raster order
/// (row, then column) of their first pixel. A component's first pixel always opens a new
/// provisional label, and that label is the smallest of its component, so ordering the roots by
/// label orders components by first pixel. Deterministic; empty input gives count 0.
public enum ConnectedComponents {
    /// Labels the true pixels of `mask` (default 8-connectivity, as skimage.measure.label).
    public static func label(_ mask: Mask, connectivity: Connectivity = .eight) -> (labels: LabelImage, count: Int) {
        label(mask.isValid, width: mask.width, height: mask.height, connectivity: connectivity)
    }

    /// Labels the true pixels of a row-major [Bool] of `width * height`.
    public static func label(
        _ values: [Bool], width: Int, height: Int, connectivity: Connectivity = .eight
    ) -> (labels: LabelImage, count: Int) {
        precondition(values.count == width * height, "mask count \(values.count) != \(width)x\(height)")
        precondition(values.count < Int(Int32.max), "image too large for Int32 labels")
        var labels = [Int32](repeating: 0, count: values.count)
        if values.isEmpty { return (LabelImage(width: width, height: height, labels: labels), 0) }
        var parent: [Int32] = [0]  // parent[0] unused (background)
        let eight = connectivity == .eight

        @inline(__always) func find(_ p: UnsafeMutablePointer<Int32>, _ a: Int32) -> Int32 {
            var a = a
            while p[Int(a)] != a {
                let g = p[Int(p[Int(a)])]
                p[Int(a)] = g
                a = g
            }
            return a
        }

        // Adopt neighbour label `n` (if any) as the pixel's label, uniting it with the one held.
        @inline(__always) func merge(_ current: inout Int32, _ n: Int32) {
            if n == 0 || n == current { return }
            if current == 0 { current = n; return }
            parent.withUnsafeMutableBufferPointer { pb in
                let p = pb.baseAddress!
                let a = find(p, current), b = find(p, n)
                if a < b { p[Int(b)] = a } else if b < a { p[Int(a)] = b }
            }
        }

        values.withUnsafeBufferPointer { v in
            labels.withUnsafeMutableBufferPointer { l in
                for y in 0..<height {
                    let row = y &* width
                    for x in 0..<width {
                        let i = row &+ x
                        if !v[i] { continue }
                        // Already visited neighbours' labels (0 = none).
                        let left: Int32 = x > 0 ? l[i &- 1] : 0
                        let up: Int32 = y > 0 ? l[i &- width] : 0
                        let upLeft: Int32 = (eight && x > 0 && y > 0) ? l[i &- width &- 1] : 0
                        let upRight: Int32 = (eight && x < width - 1 && y > 0) ? l[i &- width &+ 1] : 0
                        var current: Int32 = 0
                        merge(&current, left)
                        merge(&current, up)
                        merge(&current, upLeft)
                        merge(&current, upRight)
                        if current == 0 {
                            current = Int32(parent.count)
                            parent.append(current)
                        }
                        l[i] = current
                    }
                }
            }
        }

        // Final numbers: roots in increasing provisional label = raster order of first pixels.
        var final = [Int32](repeating: 0, count: parent.count)
        var count: Int32 = 0
        parent.withUnsafeMutableBufferPointer { pb in
            let p = pb.baseAddress!
            for a in 1..<pb.count {
                let r = find(p, Int32(a))
                if r == Int32(a) { count &+= 1; final[a] = count } else { final[a] = final[Int(r)] }
            }
        }
        final.withUnsafeBufferPointer { f in
            labels.withUnsafeMutableBufferPointer { l in
                for i in 0..<l.count where l[i] != 0 { l[i] = f[Int(l[i])] }
            }
        }
        return (LabelImage(width: width, height: height, labels: labels), Int(count))
    }
}
