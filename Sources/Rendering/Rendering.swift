import PeakKit
import CCairo
