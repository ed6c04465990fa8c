"""cffi build script for the OBS source shim (needs libobs-dev): the module ``wlcap_obs._native``,
used only through the facade ``wlcap_obs.native``. setup.py builds it where pkg-config finds libobs."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from cffi import FFI

NATIVE_DIR = Path(__file__).resolve().parent
DECLARATIONS = ["obs_source.h"]
SOURCES = ["src/obs_source.c", "src/render_sync.c", "src/frame_geometry.c", "src/cursor_overlay.c",
           "src/pixel_formats.c", "src/frame_check.c", "src/frame_effect.c"]


def _pkg_config(*args: str) -> list[str]:
    return shlex.split(subprocess.check_output(["pkg-config", *args, "libobs"], text=True))


def libobs_include_dirs() -> list[str]:
    """Where obs-module.h is: pkg-config's cflags name it for OBS 29, but OBS 32's libobs.pc gives
    only -I/usr/include, which pkg-config drops as a system directory, while the headers live in
    its obs/ subfolder."""
    includedir = subprocess.check_output(["pkg-config", "--variable=includedir", "libobs"], text=True).strip()
    return [d for d in (f"{includedir}/obs", includedir) if Path(d, "obs-module.h").is_file()]


def libobs_available() -> bool:
    try:
        subprocess.run(["pkg-config", "--exists", "libobs"], check=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


ffi = FFI()
ffi.cdef("\n".join((NATIVE_DIR / "decl" / name).read_text() for name in DECLARATIONS))
ffi.set_source(
    "wlcap_obs._native",
    "#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n#include \"obs_source.h\"\n",
    sources=[f"native/{src}" for src in SOURCES],
    include_dirs=[str(NATIVE_DIR / "decl"), *(libobs_include_dirs() if libobs_available() else [])],
    extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter",
                        "-Werror=implicit-function-declaration",
                        *(_pkg_config("--cflags") if libobs_available() else [])],
    libraries=["obs"],
)

if __name__ == "__main__":
    ffi.compile(verbose=True)
