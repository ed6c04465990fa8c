"""Build steps pyproject.toml cannot express: the cffi module and the generated protocol modules."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithProtocols(build_py):
    """Generate capture/protocols/_generated from the XML files into the build tree."""

    def run(self) -> None:
        super().run()
        # Loaded by path: importing the `capture` package needs the very modules generated here.
        spec = importlib.util.spec_from_file_location("wlcap_generate", ROOT / "capture/protocols/generate.py")
        assert spec is not None and spec.loader is not None
        generate = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(generate)
        generate.generate(Path(self.build_lib) / "capture" / "protocols" / generate.GENERATED_PACKAGE)


def _libobs_available() -> bool:
    spec = importlib.util.spec_from_file_location("wlcap_build_obs", ROOT / "native/build_obs_ffi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return bool(module.libobs_available())


# The OBS shim needs libobs-dev; the capture library alone does not.
CFFI_MODULES = ["native/build_ffi.py:ffi"]
if _libobs_available():
    CFFI_MODULES.append("native/build_obs_ffi.py:ffi")

setup(
    cffi_modules=CFFI_MODULES,
    cmdclass={"build_py": BuildPyWithProtocols},
)
