"""The OBS Studio installed here, as `wlcap obs install` needs to know it: its version, the Python it
embeds, where its configuration lives, and whether it is running on that configuration.

OBS on Linux links libobs-scripting against one libpython (its DT_NEEDED entry names it), and the
packages wlcap installs for OBS must be built for that Python's major.minor.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Mapping
from pathlib import Path

from capture.errors import WlcapError

LIB_DIRS = ("lib/*-linux-gnu", "lib64", "lib")
PREFIXES = ("/usr", "/usr/local")
SCRIPTING_LIBRARY = "libobs-scripting.so*"
DT_NEEDED = 1
SHT_DYNAMIC = 6


class ObsSetupError(WlcapError):
    """OBS, or something `wlcap obs install` needs from it, is missing or does not fit."""


def elf_needed(path: Path) -> list[str]:
    """The DT_NEEDED entries of a shared library (the libraries it links), read from its dynamic
    section: no ldd, nothing of the library is run."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        raise ObsSetupError(f"{path} is not an ELF file")
    is64, order = data[4] == 2, "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(order + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x3A)
        section, entry = order + "IIQQQQIIQQ", order + "qQ"
    else:
        shoff, = struct.unpack_from(order + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x2E)
        section, entry = order + "IIIIIIIIII", order + "iI"
    headers = [struct.unpack_from(section, data, shoff + i * shentsize) for i in range(shnum)]
    needed = []
    for header in headers:
        if header[1] != SHT_DYNAMIC:
            continue
        offset, size, link = header[4], header[5], header[6]
        strings_offset = headers[link][4]
        for position in range(offset, offset + size, struct.calcsize(entry)):
            tag, value = struct.unpack_from(entry, data, position)
            if tag == 0:
                break
            if tag == DT_NEEDED:
                end = data.index(b"\0", strings_offset + value)
                needed.append(data[strings_offset + value:end].decode())
    return needed


def scripting_library() -> Path:
    """libobs-scripting of the `obs` on PATH (its own prefix first), else of any usual prefix."""
    obs = shutil.which("obs")
    if obs is None:
        raise ObsSetupError("OBS Studio is not installed (no `obs` on PATH); on Debian: sudo apt-get install "
                            "obs-studio")
    prefixes = dict.fromkeys([str(Path(obs).resolve().parent.parent), *PREFIXES])
    for prefix in prefixes:
        for lib_dir in LIB_DIRS:
            found = sorted(Path(prefix).glob(f"{lib_dir}/{SCRIPTING_LIBRARY}"))
            if found:
                return found[0].resolve()
    raise ObsSetupError(f"OBS's scripting library ({SCRIPTING_LIBRARY}) is not under {', '.join(prefixes)}: this "
                        "OBS has no Python scripts, which wlcap needs")


def embedded_python(library: Path) -> tuple[int, int]:
    """The Python version (major, minor) that `library` (libobs-scripting) links."""
    for name in elf_needed(library):
        match = re.fullmatch(r"libpython(\d+)\.(\d+)[a-z]*\.so.*", name)
        if match:
            return int(match[1]), int(match[2])
    raise ObsSetupError(f"{library} links no libpython: this OBS was built without Python scripts, which wlcap "
                        "needs")


def obs_version() -> tuple[int, int] | None:
    """(major, minor) of the installed OBS: `obs --version` (which opens no window and writes no
    config), else pkg-config's libobs; None when neither says."""
    for command in (["obs", "--version"], ["pkg-config", "--modversion", "libobs"]):
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=30,
                                 stdin=subprocess.DEVNULL).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        match = re.search(r"(\d+)\.(\d+)\.\d+", out)
        if match:
            return int(match[1]), int(match[2])
    return None


def config_root(env: Mapping[str, str]) -> Path:
    """Where OBS keeps its configuration (libobs's os_get_config_path): $XDG_CONFIG_HOME/obs-studio,
    else ~/.config/obs-studio."""
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or str(Path.home()), ".config")
    return Path(base) / "obs-studio"


def running_obs(config: Path, proc: Path = Path("/proc")) -> list[int]:
    """OBS processes of this user that run on `config` (its environment names the same config root).
    A process whose environment cannot be read counts as running on it."""
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "obs" or entry.stat().st_uid != os.getuid():
                continue
            if (entry / "stat").read_text().rpartition(")")[2].split()[0] == "Z":
                continue
        except OSError:
            continue  # gone meanwhile
        try:
            raw = (entry / "environ").read_bytes()
        except OSError:
            found.append(int(entry.name))
            continue
        env = dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
        if config_root(env) == config:
            found.append(int(entry.name))
    return sorted(found)
