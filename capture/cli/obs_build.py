"""wlcap's packages for the Python OBS embeds, built as CMakeLists.txt builds them: the project
installed with `pip install --no-deps --target`, beside the packages it imports (pywayland, cffi and
what they need).

wlcap itself is built from a source tree (the script OBS loads lives only there, and building both
from one tree keeps them one version; the C shim is compiled against the libobs installed now). The
tree is copied first, so that the build writes nothing into it. pywayland, cffi and their
requirements are copied, file by file as pip recorded them, from the environment this command runs
in, whose Python the caller has checked is OBS's: no network, no second build.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from capture.cli.obs_studio import ObsSetupError

# OBS's script imports capture and wlcap_obs, and they import these; numpy (the CLI's screenshots) stays
# out of OBS, as in CMakeLists.txt.
RUNTIME_DISTRIBUTIONS = ("pywayland", "cffi")
# What `pip install --no-build-isolation` of the project needs in this environment.
BUILD_MODULES = ("pip", "setuptools", "cffi", "pywayland")
# Never copied into the build: what the packages do not need (at the top of the tree), and build
# outputs and caches (anywhere).
TOP_LEVEL_SKIPPED = frozenset((".git", ".venv", "build", "dist", "out", "tests", "tools"))
SKIPPED = ("__pycache__", "*.egg-info", ".*_cache", "_generated", "_native*.so", "_native.c", "_native.o")
SCRIPT = Path("obs_plugin") / "wlcap.py"


def is_source_tree(path: Path) -> bool:
    return (path / "setup.py").is_file() and (path / SCRIPT).is_file()


def find_source(explicit: Path | None) -> Path:
    """The source tree to build: `explicit`, else the checkout this environment lives in (a .venv
    inside it), else one at or above the working directory."""
    if explicit is not None:
        if not is_source_tree(explicit):
            raise ObsSetupError(f"{explicit} is not a wlcap source tree (no setup.py and {SCRIPT} there)")
        return explicit.resolve()
    for start in (Path(sys.prefix), Path.cwd()):
        for folder in (start, *start.parents):
            if is_source_tree(folder):
                return folder.resolve()
    raise ObsSetupError(f"cannot find wlcap's source tree (setup.py and {SCRIPT}): run this from a wlcap checkout, "
                        "or pass --source DIR")


def _pkg_config_has(module: str) -> bool:
    return subprocess.run(["pkg-config", "--exists", module], capture_output=True).returncode == 0


class Missing(NamedTuple):
    what: str
    package: str = ""  # Debian's
    command: str = ""  # what installs it otherwise


def missing_build_requirements() -> list[Missing]:
    """What building the C parts lacks here."""
    missing = []
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None and shutil.which("cc") is None:
        missing.append(Missing(f"a C compiler ({compiler})", "gcc"))
    include = Path(sysconfig.get_paths()["include"])
    if not (include / "Python.h").is_file():
        missing.append(Missing(f"Python's headers ({include}/Python.h)",
                               f"python{sys.version_info.major}.{sys.version_info.minor}-dev"))
    if shutil.which("pkg-config") is None:
        missing.append(Missing("pkg-config", "pkg-config"))
    else:
        for module, package in (("libobs", "libobs-dev"), ("gbm", "libgbm-dev"), ("libdrm", "libdrm-dev")):
            if not _pkg_config_has(module):
                missing.append(Missing(f"{module} (pkg-config finds none)", package))
    for module in BUILD_MODULES:
        if importlib.util.find_spec(module) is None:
            missing.append(Missing(f"the Python module {module}",
                                   command=f"{sys.executable} -m pip install {module}"))
    return missing


def describe_missing(missing: list[Missing]) -> str:
    packages = [m.package for m in missing if m.package]
    remedies = ([f"on Debian: sudo apt-get install {' '.join(packages)}"] if packages else []) + \
        [m.command for m in missing if m.command]
    return f"missing {', '.join(m.what for m in missing)}; {'; '.join(remedies)}"


def _copy_source(source: Path, into: Path) -> Path:
    anywhere = shutil.ignore_patterns(*SKIPPED)

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = TOP_LEVEL_SKIPPED.intersection(names) if Path(folder) == source else set()
        return set(anywhere(folder, names)) | top

    tree = into / "source"
    shutil.copytree(source, tree, ignore=ignore, symlinks=True)
    return tree


def _requirements(distribution: importlib.metadata.Distribution) -> Iterable[str]:
    """Names of what a distribution requires outside its extras; a requirement with a marker is
    optional here (it may not apply)."""
    for requirement in distribution.requires or []:
        name, _, marker = requirement.partition(";")
        if "extra" in marker:
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", name.strip())
        if match:
            yield match[0] + ("?" if marker.strip() else "")


def copy_distributions(names: Iterable[str], target: Path) -> list[str]:
    """Copies installed distributions, and what they require, into `target` as pip installed them
    (the files in their RECORD inside site-packages, .dist-info included). Returns the names copied."""
    pending, done = list(names), list[str]()
    while pending:
        name = pending.pop(0)
        optional = name.endswith("?")
        name = name.rstrip("?")
        if name.lower() in (d.lower() for d in done):
            continue
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            if optional:
                continue
            raise ObsSetupError(f"{name}, which OBS's wlcap needs, is not installed in {sys.prefix}: "
                                f"{sys.executable} -m pip install {name}") from None
        base = Path(str(distribution.locate_file(""))).resolve()
        for file in distribution.files or []:
            source = Path(str(distribution.locate_file(file))).resolve()
            if not source.is_relative_to(base) or "__pycache__" in source.parts or not source.is_file():
                continue  # console scripts in bin/, compiled caches
            destination = target / source.relative_to(base)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
        done.append(name)
        pending.extend(_requirements(distribution))
    return done


def _log_failure(what: str, output: str) -> ObsSetupError:
    fd, log = tempfile.mkstemp(prefix="wlcap-obs-build-", suffix=".log")
    with os.fdopen(fd, "w") as out:
        out.write(output)
    lines = [line.strip() for line in output.splitlines() if "error" in line.lower()] or output.splitlines()[-1:]
    return ObsSetupError(f"{what} failed: {lines[-1] if lines else 'no output'} (the whole output: {log})")


def check_imports(target: Path) -> None:
    """Imports wlcap's OBS packages from `target` alone (no site-packages), as OBS's Python will."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import capture, wlcap_obs.native, wlcap_obs.plugin, "
            "pywayland.client")
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(target)], capture_output=True, text=True,
                            timeout=120, cwd="/")
    if result.returncode != 0:
        raise _log_failure(f"importing the built packages from {target}", result.stderr)


def build_packages(source: Path, target: Path) -> None:
    """Builds wlcap from `source` into `target` (a new folder), with its runtime requirements."""
    missing = missing_build_requirements()
    if missing:
        raise ObsSetupError(f"cannot build wlcap for OBS here: {describe_missing(missing)}")
    with tempfile.TemporaryDirectory(prefix="wlcap-obs-build-") as work:
        tree = _copy_source(source, Path(work))
        # WLCAP_REQUIRE_OBS: a build without the OBS shim would load in OBS and register nothing.
        env = dict(os.environ, WLCAP_REQUIRE_OBS="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                                 "--no-index", "--target", str(target), str(tree)],
                                capture_output=True, text=True, env=env, cwd=work, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise _log_failure(f"building wlcap from {source}", result.stdout + result.stderr)
    shutil.rmtree(target / "bin", ignore_errors=True)  # the CLI's console script: not for OBS
    copy_distributions(RUNTIME_DISTRIBUTIONS, target)
    check_imports(target)
