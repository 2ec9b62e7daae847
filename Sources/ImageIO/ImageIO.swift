import PeakKit
