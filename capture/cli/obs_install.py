"""`wlcap obs install` and `wlcap obs uninstall`: wlcap in a user's own OBS Studio, in one command,
without root.

install: checks that this Python is the one OBS embeds, builds wlcap's packages for it from the source
tree (obs_build.py), puts the script and its packages in the user's data folder
($XDG_DATA_HOME/wlcap, else ~/.local/share/wlcap: wlcap.py and wlcap-python/ beside it, where the
script looks first), and adds the script to every scene collection of the user's OBS (obs_config.py),
so that OBS loads it at its next start whichever collection is current. uninstall takes out exactly
that: the script's entries (by path) and those files. Both refuse while OBS runs on that
configuration: OBS writes its scene collection back when it exits, and would drop the change.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from capture.cli import obs_build, obs_config, obs_studio
from capture.cli.obs_studio import ObsSetupError

SCRIPT = "wlcap.py"
PACKAGES = "wlcap-python"
STAGING = ("wlcap-python.new", "wlcap-python.old")
NEXT_STEP = "Start OBS, then Sources → + → Wayland Capture (wlcap)."

Say = Callable[[str], None]


def data_dir(prefix: Path | None, env: Mapping[str, str]) -> Path:
    """Where the script and its packages go: PREFIX/share/wlcap, else $XDG_DATA_HOME/wlcap, else
    ~/.local/share/wlcap."""
    if prefix is not None:
        return prefix.resolve() / "share" / "wlcap"
    base = env.get("XDG_DATA_HOME", "")
    if not os.path.isabs(base):  # unset, empty or relative: the XDG spec says to ignore it
        base = os.path.join(env.get("HOME") or str(Path.home()), ".local", "share")
    return Path(base) / "wlcap"


def _check_user(env: Mapping[str, str]) -> None:
    if os.geteuid() == 0 and env.get("SUDO_USER", "root") != "root":
        raise ObsSetupError(f"run this as {env['SUDO_USER']}, without sudo: OBS's settings are per user, and as "
                            "root it would install wlcap for root's OBS")


def _refuse_while_running(root: Path) -> None:
    pids = obs_studio.running_obs(root)
    if pids:
        raise ObsSetupError(f"OBS is running (pid {', '.join(map(str, pids))}) on {root}; it writes its scene "
                            "collection back when it exits, which would undo this: close OBS and run this again")


def _check_python() -> None:
    library = obs_studio.scripting_library()
    embedded = obs_studio.embedded_python(library)
    if embedded != sys.version_info[:2]:
        wanted = "python{}.{}".format(*embedded)
        raise ObsSetupError(f"OBS embeds Python {embedded[0]}.{embedded[1]} ({library}), but this wlcap runs on "
                            f"Python {sys.version_info.major}.{sys.version_info.minor} ({sys.executable}); install "
                            f"wlcap into a virtual environment made with {wanted} (`{wanted} -m venv .venv`, then "
                            "`.venv/bin/pip install .`) and run its `wlcap obs install`")


def _replace_tree(new: Path, destination: Path) -> None:
    """`destination` becomes `new`; in two renames, so that it is never half there."""
    old = destination.with_name(destination.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if destination.exists():
        destination.rename(old)
    new.rename(destination)
    shutil.rmtree(old, ignore_errors=True)


def _describe(path: Path, collection: dict[str, object]) -> str:
    return f'"{collection.get("name") or path.stem}" ({path})'


def register(script: Path, root: Path, say: Say) -> None:
    """Adds `script` to each scene collection under `root`; before OBS's first start, creates the
    one OBS will open."""
    collections = obs_config.collection_files(obs_config.scenes_dir(root))
    if not collections:
        version = obs_studio.obs_version()
        if version is None:
            raise ObsSetupError("OBS has no scene collection yet and `obs --version` does not say which OBS this is: "
                                "start OBS once, close it, and run this again")
        written = obs_config.create_first_collection(root, version, str(script))
        settings = f", named in {written[0]}" if len(written) > 1 else ""
        say(f"OBS has not been started yet: created its first scene collection {written[-1]}{settings}, with "
            f"wlcap's script in it")
        return
    registered = 0
    for path in collections:
        try:
            collection = obs_config.read_collection(path)
        except (OSError, ValueError) as exc:
            say(f"skipped {path}: not a scene collection this can read ({exc})")
            continue
        for other in obs_config.other_wlcap_scripts(collection, str(script)):
            say(f"note: the scene collection {_describe(path, collection)} also loads {other}: remove that one in "
                "Tools → Scripts, so that one wlcap loads")
        if obs_config.add_script(collection, str(script)):
            backup = obs_config.save_collection(path, collection)
            say(f"added wlcap's script to the scene collection {_describe(path, collection)}; the file as it was: "
                f"{backup}")
        else:
            say(f"the scene collection {_describe(path, collection)} loads wlcap's script already")
        registered += 1
    if not registered:
        raise ObsSetupError(f"none of the scene collections in {obs_config.scenes_dir(root)} could be read")


def install(source: Path | None, prefix: Path | None, env: Mapping[str, str] = os.environ,
            say: Say = print) -> int:
    _check_user(env)
    _check_python()
    root = obs_studio.config_root(env)
    _refuse_while_running(root)
    tree = obs_build.find_source(source)
    target = data_dir(prefix, env)
    say(f"building wlcap from {tree} for OBS's Python {sys.version_info.major}.{sys.version_info.minor} "
        f"({sys.executable})")
    target.mkdir(parents=True, exist_ok=True)
    staging = target / STAGING[0]
    shutil.rmtree(staging, ignore_errors=True)
    try:
        obs_build.build_packages(tree, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _replace_tree(staging, target / PACKAGES)
    script = target / SCRIPT
    obs_config.write_atomically(script, (tree / obs_build.SCRIPT).read_text(encoding="utf-8"))
    say(f"installed {script}, and the packages it imports in {target / PACKAGES}")
    register(script, root, say)
    say(NEXT_STEP)
    return 0


def uninstall(prefix: Path | None, env: Mapping[str, str] = os.environ, say: Say = print) -> int:
    _check_user(env)
    root = obs_studio.config_root(env)
    _refuse_while_running(root)
    target = data_dir(prefix, env)
    script = target / SCRIPT
    scenes = obs_config.scenes_dir(root)
    for path in obs_config.collection_files(scenes):
        try:
            collection = obs_config.read_collection(path)
        except (OSError, ValueError) as exc:
            say(f"skipped {path}: not a scene collection this can read ({exc})")
            continue
        if obs_config.remove_script(collection, str(script)):
            obs_config.save_collection(path, collection, backup=False)
            say(f"removed wlcap's script from the scene collection {_describe(path, collection)}")
    backups = obs_config.backups(scenes)
    for backup in backups:
        backup.unlink()
    if backups:
        say(f"removed the backups install made: {', '.join(map(str, backups))}")
    removed = []
    for name in (SCRIPT, PACKAGES, *STAGING):
        path = target / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(path)
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    say(f"removed {' and '.join(map(str, removed))}" if removed else f"no wlcap files were installed in {target}")
    say("OBS will start without wlcap.")
    return 0


def _user_errors(command: Callable[[], int]) -> int:
    """A file that cannot be read or written is one line that names it, as every other failure."""
    try:
        return command()
    except OSError as exc:
        raise ObsSetupError(f"{exc.filename or 'a file'}: {exc.strerror or exc}") from exc


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("obs", help="install wlcap into your own OBS Studio, or remove it")
    commands = parser.add_subparsers(dest="obs_command", required=True)
    prefix_help = "install under PREFIX/share/wlcap instead of $XDG_DATA_HOME/wlcap (~/.local/share/wlcap)"
    p = commands.add_parser("install", help="build wlcap for the Python OBS embeds, install it in your data folder "
                                            "and load it in each of your OBS scene collections (no root needed)")
    p.add_argument("--source", type=Path, metavar="DIR",
                   help="the wlcap source tree to build (default: the checkout this wlcap runs from)")
    p.add_argument("--prefix", type=Path, help=prefix_help)
    p.set_defaults(func=lambda args: _user_errors(lambda: install(args.source, args.prefix)))
    p = commands.add_parser("uninstall", help="remove what `wlcap obs install` added: the script from your scene "
                                              "collections, and its files")
    p.add_argument("--prefix", type=Path, help=prefix_help)
    p.set_defaults(func=lambda args: _user_errors(lambda: uninstall(args.prefix)))
