/// Which of a pixel's visited neighbours need a union-find lookup.
///
/// Number the 8 neighbours 0 NW, 1 N, 2 NE, 3 E, 4 SE, 5 S, 6 SW, 7 W. Two visited neighbours that
/// are 8-adjacent to each other (consecutive around the ring, or two edge neighbours such as N
/// and E, which touch diagonally) are already in the same component: they were united when the
/// later of them was visited. So only one lookup per group of mutually connected visited
/// neighbours is needed. For an 8-bit mask of visited neighbours, `representatives[mask]` lists
/// one neighbour per group (at most 4: four isolated corners). On noise most pixels have one
/// group, which cuts the lookups, the loop's dominant cost, by a factor of about three.
enum NeighbourGroups {
    /// (dx, dy) of neighbour k.
    static let offsets: [(dx: Int, dy: Int)] = [(-1, -1), (0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0)]

    /// Packed table: entry `mask` holds the count in the low 4 bits and up to four 3-bit
    /// neighbour numbers above them (bits 4-6, 7-9, 10-12, 13-15).
    static let representatives: [UInt16] = (0..<256).map { mask in
        func adjacent(_ a: Int, _ b: Int) -> Bool {
            let da = offsets[a], db = offsets[b]
            return abs(da.dx - db.dx) <= 1 && abs(da.dy - db.dy) <= 1
        }
        var assigned = [Bool](repeating: false, count: 8)
        var reps: [Int] = []
        for k in 0..<8 where mask & (1 << k) != 0 && !assigned[k] {
            reps.append(k)
            var stack = [k]
            assigned[k] = true
            while let a = stack.popLast() {
                for b in 0..<8 where mask & (1 << b) != 0 && !assigned[b] && adjacent(a, b) {
                    assigned[b] = true
                    stack.append(b)
                }
            }
        }
        var packed = UInt16(reps.count)
        for (i, k) in reps.enumerated() { packed |= UInt16(k) << (4 + 3 * i) }
        return packed
    }
}
