"""Builds the Swift library product PeaksC (self-contained, -static-stdlib) and bundles it.

`pip install ./python` from the repository root runs this in-tree (pip >= 21.3): the Swift
package is the parent folder of this file (or $PEAKS_SWIFT_ROOT). See PLATFORM.md §4.
"""
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
LIBRARY = "libPeaksC.so"


def swift_root():
    root = Path(os.environ.get("PEAKS_SWIFT_ROOT", HERE.parent)).resolve()
    if not (root / "Package.swift").is_file() or not (root / "Sources" / "PeaksC").is_dir():
        sys.exit(f"peaks: cannot find the Swift package (Package.swift with Sources/PeaksC) in {root}; "
                 "install from a checkout of the repository (pip install ./python) or set PEAKS_SWIFT_ROOT")
    return root


def version():
    text = (swift_root() / "Sources" / "PeakKit" / "Version.swift").read_text()
    return re.search(r'static let string = "([^"]+)"', text).group(1)


class BuildSwift(build_py):
    """build_py that first builds libPeaksC.so and copies it into the package."""

    def run(self):
        super().run()
        root = swift_root()
        scratch = Path(os.environ.get("PEAKS_SWIFT_SCRATCH", HERE / "build" / "swift"))
        cmd = ["swift", "build", "-c", "release", "-Xswiftc", "-static-stdlib",
               "--product", "PeaksC", "--scratch-path", str(scratch)]
        self.announce("peaks: " + " ".join(cmd), level=2)
        print("peaks: building the Swift library (a few minutes the first time): " + " ".join(cmd), flush=True)
        subprocess.check_call(cmd, cwd=root)
        built = scratch / "release" / LIBRARY
        target = Path(self.build_lib) / "peaks" / LIBRARY
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)
        # Debug sections make the file ~4x larger; the exported C symbols stay.
        if shutil.which("strip"):
            subprocess.call(["strip", "--strip-unneeded", str(target)])
        os.chmod(target, 0o755)


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """py3-none-<platform>: the library is loaded by ctypes, not tied to a Python ABI."""

    def get_tag(self):
        return "py3", "none", sysconfig.get_platform().replace("-", "_").replace(".", "_")


setup(
    version=version(),
    cmdclass={"build_py": BuildSwift, "bdist_wheel": PlatformWheel},
    distclass=BinaryDistribution,
)
