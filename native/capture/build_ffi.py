"""cffi build script for the capture library's native helpers (GBM allocation, DRM device lookup,
DMA-BUF ioctls).

setup.py names it in ``cffi_modules``; the resulting module is ``capture._native`` and is used only
through the facade ``capture.buffers.native``.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from cffi import FFI

NATIVE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = NATIVE_DIR.parents[1]
# Read in this order: later headers may use types from earlier ones.
DECLARATIONS = ["dmabuf.h"]
SOURCES = ["src/dmabuf.c"]


def _libdrm_cflags() -> list[str]:
    """libdrm's include folder (xf86drm.h, virtgpu_drm.h): pkg-config's, else Debian's."""
    try:
        return shlex.split(subprocess.check_output(["pkg-config", "--cflags", "libdrm"], text=True))
    except (OSError, subprocess.CalledProcessError):
        return ["-I/usr/include/libdrm"]


def _declarations() -> str:
    return "\n".join((NATIVE_DIR / "decl" / name).read_text() for name in DECLARATIONS)


ffi = FFI()
ffi.cdef(_declarations())
ffi.set_source(
    "capture._native",
    "#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n#include \"dmabuf.h\"\n",
    # setuptools wants source paths relative to the project root, where setup.py runs.
    sources=[str((NATIVE_DIR / src).relative_to(PROJECT_ROOT)) for src in SOURCES],
    include_dirs=[str(NATIVE_DIR / "decl")],
    libraries=["gbm", "drm"],
    extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration",
                        *_libdrm_cflags()],
)

if __name__ == "__main__":
    ffi.compile(verbose=True)
