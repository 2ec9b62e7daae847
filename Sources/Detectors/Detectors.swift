import PeakKit
import HighSymmetry
import LaplacianOfGaussian
import Persistence
import Template

/// The detectors built into peaks. Adding one: a folder under Plugins/, a target in
/// Package.swift, and one line here.
public let builtinDetectors = DetectorRegistry([
    PersistenceDetector(),
    LoGDetector(),
    HighSymmetryDetector(),
    TemplateDetector(),
])
