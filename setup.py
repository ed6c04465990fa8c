"""Build steps pyproject.toml cannot express: the cffi module and the generated protocol modules."""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithProtocols(build_py):
    """Generate capture/protocols/_generated from the XML files into the build tree."""

    def run(self) -> None:
        super().run()
        sys.path.insert(0, str(ROOT))
        from capture.protocols.generate import GENERATED_PACKAGE, generate

        target = Path(self.build_lib) / "capture" / "protocols" / GENERATED_PACKAGE
        generate(target)


setup(
    cffi_modules=["native/build_ffi.py:ffi"],
    cmdclass={"build_py": BuildPyWithProtocols},
)
