import Correlation
import Testing

@Suite struct StackLatticeVote {
    /// Hand cases of `ContentScale.stackLattice`: v and -v are one vote, written with dx > 0 (or
    /// dx = 0, dy > 0); different vectors of one lattice still make the stack periodic; half or
    /// fewer samples with a lattice give none; ties go to the first in text order.
    @Test func handCases() {
        #expect(ContentScale.stackLattice([(12, 0), (-12, 0), (0, 12), nil]) == "12,0")
        #expect(ContentScale.stackLattice([(0, -12), (0, 12), (12, 0), (12, 0)]) == "0,12")  // 2 votes each: text order
        #expect(ContentScale.stackLattice([(-5, 3), (0, 7), nil]) == "0,7")  // (5,-3) and (0,7) tie: "0,7" < "5,-3"
        #expect(ContentScale.stackLattice([(12, 0), nil]) == "none")
        #expect(ContentScale.stackLattice([(12, 0), nil, nil]) == "none")
        #expect(ContentScale.stackLattice([nil, nil]) == "none")
        #expect(ContentScale.stackLattice([]) == "none")
        #expect(ContentScale.stackLattice([(0, -9)]) == "0,9")
    }
}
