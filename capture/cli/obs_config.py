"""OBS's own configuration, edited the way `wlcap obs install` needs: a script entry in each scene
collection, and, before OBS's first start, a collection of OBS's default shape to hold it.

OBS keeps the scripts Tools -> Scripts loads per scene collection, in the collection's JSON
(`basic/scenes/<file>.json`, "modules" -> "scripts-tool" -> [{"path", "settings"}]), and loads them
before the collection's sources. Which collection is current is in the frontend's settings: OBS 29
and 30 keep them in global.ini ([Basic] SceneCollectionFile, the file's name), OBS 31 and later in
user.ini ([Basic] SceneCollection, matched against each file's "name"); OBS 31 copies global.ini to
user.ini once, at its first start after an older OBS ran. OBS 31 can also keep the collections under
another folder (global.ini [Locations] SceneCollections).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

BACKUP_SUFFIX = ".wlcap-backup"  # beside the collection; OBS lists only *.json
SCENES = Path("basic") / "scenes"
DEFAULT_COLLECTION = "Untitled"  # OBS's own first name for it (English)
OBS31 = (31, 0)


def _semantic_version(major: int, minor: int) -> int:
    return (major << 24) | (minor << 16)  # OBS's MAKE_SEMANTIC_VERSION, as global.ini's LastVersion


# INI files, as libobs's config reader takes them: [section], key=value, names without regard to case.

def ini_get(text: str, section: str, key: str) -> str | None:
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1].strip().lower()
        elif current == section.lower() and "=" in stripped:
            name, value = stripped.split("=", 1)
            if name.strip().lower() == key.lower():
                return value.strip()
    return None


def ini_add_missing(text: str, section: str, values: dict[str, str]) -> str:
    """`text` with each of `values` that `section` lacks added at the end of that section (the
    section appended if there is none); every other line as it was."""
    missing = {key: value for key, value in values.items() if ini_get(text, section, key) is None}
    if not missing:
        return text
    added = [f"{key}={value}" for key, value in missing.items()]
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().lower() == f"[{section.lower()}]"), None)
    if start is None:
        return "\n".join([*lines, *([""] if lines else []), f"[{section}]", *added]) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("[")), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return "\n".join([*lines[:end], *added, *lines[end:]]) + "\n"


def scenes_dir(root: Path) -> Path:
    """The folder of the scene collections: global.ini's [Locations] SceneCollections (OBS 31 and
    later) where it names an existing folder, else under `root`."""
    global_ini = root / "global.ini"
    location = ini_get(global_ini.read_text(errors="replace"), "Locations", "SceneCollections") \
        if global_ini.is_file() else None
    if location and Path(location).is_dir():
        return Path(location) / "obs-studio" / SCENES
    return root / SCENES


def collection_files(scenes: Path) -> list[Path]:
    """The scene collections, as OBS lists them: every *.json file in `scenes`."""
    return sorted(path for path in scenes.glob("*.json") if path.is_file()) if scenes.is_dir() else []


def frontend_ini(root: Path, version: tuple[int, int]) -> Path:
    """The file OBS `version` will read [Basic] SceneCollection from at its next start."""
    if version < OBS31:
        return root / "global.ini"
    user_ini, global_ini = root / "user.ini", root / "global.ini"
    if user_ini.exists() or not global_ini.is_file():
        return user_ini
    text = global_ini.read_text(errors="replace")
    last = int(ini_get(text, "General", "LastVersion") or "0")
    migrated = (ini_get(text, "General", "Pre31Migrated") or "").lower() in ("true", "1")
    # An older OBS ran last: OBS 31 copies global.ini to user.ini first (and refuses if user.ini exists).
    return global_ini if last and last < _semantic_version(*OBS31) and not migrated else user_ini


# Scene collections.

def read_collection(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _same_path(a: str, b: str) -> bool:
    return a == b or os.path.realpath(a) == os.path.realpath(b)


def script_paths(collection: dict[str, Any]) -> list[str]:
    modules = collection.get("modules")
    entries = modules.get("scripts-tool") if isinstance(modules, dict) else None
    if not isinstance(entries, list):
        return []
    return [str(entry.get("path", "")) for entry in entries if isinstance(entry, dict)]


def add_script(collection: dict[str, Any], script: str) -> bool:
    """Adds `script` to the collection's scripts, once; False where it was there already."""
    if any(_same_path(path, script) for path in script_paths(collection)):
        return False
    modules = collection.get("modules")
    if not isinstance(modules, dict):
        modules = collection["modules"] = {}
    entries = modules.get("scripts-tool")
    if not isinstance(entries, list):
        entries = modules["scripts-tool"] = []
    entries.append({"path": script, "settings": {}})
    return True


def remove_script(collection: dict[str, Any], script: str) -> int:
    """Removes every entry of `script` from the collection's scripts; how many there were."""
    modules = collection.get("modules")
    entries = modules.get("scripts-tool") if isinstance(modules, dict) else None
    if not isinstance(entries, list):
        return 0
    kept = [entry for entry in entries
            if not (isinstance(entry, dict) and _same_path(str(entry.get("path", "")), script))]
    removed = len(entries) - len(kept)
    entries[:] = kept
    return removed


def other_wlcap_scripts(collection: dict[str, Any], script: str) -> list[str]:
    """Other copies of wlcap's script the collection loads (a cmake install, a checkout's)."""
    return [path for path in script_paths(collection)
            if Path(path).name == Path(script).name and not _same_path(path, script)]


def write_atomically(path: Path, text: str) -> None:
    """Replaces `path` with `text` in one rename (a crash leaves the old file or the new one), with
    the old file's permissions (a new file's follow the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            shutil.copymode(path, temporary)
        else:  # as open() would have made it (mkstemp's files are private)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_collection(path: Path, collection: dict[str, Any], backup: bool = True) -> Path:
    """Writes the collection as OBS does (compact JSON, UTF-8), after copying the file as it was to a
    backup beside it (unless `backup` is false); returns the backup's path."""
    copy = path.with_name(path.name + BACKUP_SUFFIX)
    if backup:
        shutil.copy2(path, copy)
    write_atomically(path, json.dumps(collection, ensure_ascii=False, separators=(",", ":")))
    return copy


def backups(scenes: Path) -> list[Path]:
    """The backups save_collection left in `scenes`."""
    return sorted(scenes.glob("*.json" + BACKUP_SUFFIX)) if scenes.is_dir() else []


def default_collection(name: str, script: str) -> dict[str, Any]:
    """What OBS 29 writes at its first start (one empty scene "Scene", its default transitions),
    with `script` loaded."""
    scene = {"balance": 0.5, "deinterlace_field_order": 0, "deinterlace_mode": 0, "enabled": True, "flags": 0,
             "hotkeys": {"OBSBasic.SelectScene": []}, "id": "scene", "mixers": 0, "monitoring_type": 0,
             "muted": False, "name": "Scene", "private_settings": {}, "push-to-mute": False,
             "push-to-mute-delay": 0, "push-to-talk": False, "push-to-talk-delay": 0,
             "settings": {"custom_size": False, "id_counter": 0, "items": []}, "sync": 0,
             "versioned_id": "scene", "volume": 1.0}
    quick = [{"duration": 300, "fade_to_black": fade_to_black, "hotkeys": [], "id": number, "name": transition}
             for number, transition, fade_to_black in ((1, "Cut", False), (2, "Fade", False), (3, "Fade", True))]
    return {"current_program_scene": "Scene", "current_scene": "Scene", "current_transition": "Fade", "groups": [],
            "modules": {"scripts-tool": [{"path": script, "settings": {}}]}, "name": name, "preview_locked": False,
            "quick_transitions": quick, "scene_order": [{"name": "Scene"}], "sources": [scene],
            "transition_duration": 300, "transitions": []}


def create_first_collection(root: Path, version: tuple[int, int], script: str) -> list[Path]:
    """Before OBS's first start: the collection the frontend settings name (set to OBS's default
    where they name none), of OBS's default shape, with `script`. Returns the files written."""
    ini = frontend_ini(root, version)
    text = ini.read_text(errors="replace") if ini.is_file() else ""
    name = ini_get(text, "Basic", "SceneCollection") or ini_get(text, "Basic", "SceneCollectionFile")
    name = name or DEFAULT_COLLECTION
    file_name = ini_get(text, "Basic", "SceneCollectionFile") or re.sub(r"[/\\:*?\"<>|]", "_", name)
    written = []
    updated = ini_add_missing(text, "Basic", {"SceneCollection": name, "SceneCollectionFile": file_name})
    if updated != text:
        write_atomically(ini, updated)
        written.append(ini)
    collection = scenes_dir(root) / f"{file_name}.json"
    write_atomically(collection, json.dumps(default_collection(name, script), ensure_ascii=False,
                                            separators=(",", ":")))
    written.append(collection)
    return written
