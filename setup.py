"""Build steps pyproject.toml cannot express: the cffi modules and the generated protocol modules."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithProtocols(build_py):
    """Generate capture/wayland/protocols/_generated from the XML files into the build tree."""

    def run(self) -> None:
        super().run()
        # Loaded by path: importing the `capture` package needs the very modules generated here.
        spec = importlib.util.spec_from_file_location("wlcap_generate", ROOT / "capture/wayland/protocols/generate.py")
        assert spec is not None and spec.loader is not None
        generate = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(generate)
        generate.generate(Path(self.build_lib) / "capture" / "wayland" / "protocols" / generate.GENERATED_PACKAGE)


def _libobs_problem() -> str | None:
    spec = importlib.util.spec_from_file_location("wlcap_build_obs", ROOT / "native/obs/build_obs_ffi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    problem: str | None = module.libobs_problem()
    return problem


# The OBS shim needs libobs-dev; the capture library alone does not. Without libobs the OBS source is
# left out, and said so; WLCAP_REQUIRE_OBS=1 (a build for OBS) makes that an error instead.
CFFI_MODULES = ["native/capture/build_ffi.py:ffi"]
_OBS_PROBLEM = _libobs_problem()
if _OBS_PROBLEM is None:
    CFFI_MODULES.append("native/obs/build_obs_ffi.py:ffi")
elif os.environ.get("WLCAP_REQUIRE_OBS") == "1":
    sys.exit(f"error: wlcap: WLCAP_REQUIRE_OBS=1, but the OBS source (wlcap_obs._native) cannot be built: "
             f"{_OBS_PROBLEM}")
else:
    print(f"WARNING: wlcap: {_OBS_PROBLEM}: the OBS source (wlcap_obs._native) will NOT be built; only the "
          f"capture library is (set WLCAP_REQUIRE_OBS=1 to make this an error)", file=sys.stderr)

setup(
    cffi_modules=CFFI_MODULES,
    cmdclass={"build_py": BuildPyWithProtocols},
)
