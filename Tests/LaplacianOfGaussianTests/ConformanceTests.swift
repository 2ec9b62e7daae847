import DetectorConformance
import Foundation
import Harness
import LaplacianOfGaussian
import PeakKit
import Testing

@Suite struct LoGConformance {
    @Test func passesTheConformanceSuite() {
        let failures = DetectorConformance.failures(of: LoGDetector())
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}

