import ArgumentParser
import Detectors
print(builtinDetectors.names)
