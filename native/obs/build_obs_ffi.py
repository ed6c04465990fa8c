"""cffi build script for the OBS source shim (needs libobs-dev): the module ``wlcap_obs._native``,
used only through the facade ``wlcap_obs.native``. setup.py builds it where pkg-config finds libobs."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from cffi import FFI

NATIVE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = NATIVE_DIR.parents[1]
DECLARATIONS = ["obs_source.h"]
# Every C file in src/, one job each (see the comment at the top of each).
SOURCES = sorted((NATIVE_DIR / "src").glob("*.c"))


def _pkg_config(*args: str) -> list[str]:
    return shlex.split(subprocess.check_output(["pkg-config", *args, "libobs"], text=True))


def libobs_include_dirs() -> list[str]:
    """Where obs-module.h is: pkg-config's cflags name it for OBS 29, but OBS 32's libobs.pc gives
    only -I/usr/include, which pkg-config drops as a system directory, while the headers live in
    its obs/ subfolder."""
    includedir = subprocess.check_output(["pkg-config", "--variable=includedir", "libobs"], text=True).strip()
    return [d for d in (f"{includedir}/obs", includedir) if Path(d, "obs-module.h").is_file()]


def libobs_problem() -> str | None:
    """Why the shim cannot be built here (None: it can)."""
    try:
        subprocess.run(["pkg-config", "--exists", "libobs"], check=True)
    except OSError as exc:
        return f"pkg-config cannot be run ({exc.strerror}); it is how libobs is found"
    except subprocess.CalledProcessError:
        return "pkg-config finds no libobs (OBS's development files: Debian's libobs-dev)"
    return None


def libobs_available() -> bool:
    return libobs_problem() is None


ffi = FFI()
ffi.cdef("\n".join((NATIVE_DIR / "decl" / name).read_text() for name in DECLARATIONS))
ffi.set_source(
    "wlcap_obs._native",
    "#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n#include \"obs_source.h\"\n",
    # setuptools wants source paths relative to the project root, where setup.py runs.
    sources=[str(src.relative_to(PROJECT_ROOT)) for src in SOURCES],
    include_dirs=[str(NATIVE_DIR / "decl"), *(libobs_include_dirs() if libobs_available() else [])],
    extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter",
                        "-Werror=implicit-function-declaration",
                        *(_pkg_config("--cflags") if libobs_available() else [])],
    libraries=["obs"],
)

if __name__ == "__main__":
    ffi.compile(verbose=True)
