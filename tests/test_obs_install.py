"""`wlcap obs install` and `wlcap obs uninstall`: the config editing on its own (collections with other
scripts and sources kept, idempotent, undone exactly), and the whole path a user takes: install into
an empty HOME, or into the configuration a real OBS wrote, then the real OBS 29 app started on that
HOME on Xvfb loads wlcap with no other step, and captures sway; uninstall, and OBS starts without it.

The tests add obs-websocket's settings to the configuration (to drive OBS and read what it loaded); a
user needs none of that.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import png
import pytest
from conftest import REQUIRE, _need, same_capture_env
from harness.compositor import SwayHeadless
from harness.obs_frontend import obs_env
from harness.obs_user import UserObs
from harness.obshost import Xvfb

from capture.cli import obs_build, obs_config, obs_install, obs_studio

REPO = Path(__file__).resolve().parent.parent
SWAY_BACKGROUND = (0x20, 0x40, 0x60)  # SwayHeadless's default background, #204060


# --- the configuration, edited ----------------------------------------------------------------------

def _collection() -> dict[str, Any]:
    """A collection as a user's OBS left it: sources, other scripts and modules, floats, non-ASCII."""
    return {
        "current_scene": "Szene ü", "name": "Mein Studio", "scaling_off_x": 0.1, "transition_duration": 300,
        "modules": {"scripts-tool": [{"path": "/home/u/scripts/clock.lua", "settings": {"format": "%H:%M"}}],
                    "output-timer": {"streamTimerHours": 0, "pauseRecordTimer": True}},
        "sources": [{"id": "color_source_v3", "name": "Kept", "settings": {"color": 4278190335}, "volume": 1.0},
                    {"id": "scene", "name": "Szene ü", "settings": {"items": [{"name": "Kept", "pos": {"x": 1.5}}]}}],
        "scene_order": [{"name": "Szene ü"}],
    }


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=4))


def test_register_keeps_the_collection_and_is_idempotent(tmp_path: Path) -> None:
    root = tmp_path / "obs-studio"
    path, other = root / "basic" / "scenes" / "Mein.json", root / "basic" / "scenes" / "Second.json"
    _write(path, _collection())
    _write(other, {"name": "Second", "sources": []})  # no "modules" at all
    original = path.read_bytes()
    script = tmp_path / "data" / "wlcap" / "wlcap.py"
    said: list[str] = []

    obs_install.register(script, root, said.append)
    expected = _collection()
    expected["modules"]["scripts-tool"].append({"path": str(script), "settings": {}})
    assert json.loads(path.read_text()) == expected
    assert list(json.loads(path.read_text())) == list(expected)  # the keys' order too
    assert json.loads(other.read_text()) == {"name": "Second", "sources": [],
                                            "modules": {"scripts-tool": [{"path": str(script), "settings": {}}]}}
    assert (path.parent / "Mein.json.wlcap-backup").read_bytes() == original
    assert sorted(p.name for p in path.parent.glob("*.json")) == ["Mein.json", "Second.json"]  # OBS lists these
    assert len(said) == 2 and all(line.startswith("added wlcap's script") for line in said), said

    written = path.read_bytes()
    said.clear()
    obs_install.register(script, root, said.append)
    assert path.read_bytes() == written
    assert all("loads wlcap's script already" in line for line in said), said


def test_an_unreadable_collection_is_skipped_and_said(tmp_path: Path) -> None:
    scenes = tmp_path / "obs-studio" / "basic" / "scenes"
    _write(scenes / "Good.json", {"name": "Good"})
    (scenes / "Broken.json").write_text("{")
    said: list[str] = []
    obs_install.register(tmp_path / "wlcap.py", tmp_path / "obs-studio", said.append)
    assert said[0].startswith(f"skipped {scenes / 'Broken.json'}: not a scene collection this can read"), said
    assert (scenes / "Broken.json").read_text() == "{"
    assert obs_config.script_paths(obs_config.read_collection(scenes / "Good.json")) == [str(tmp_path / "wlcap.py")]


def test_missing_build_requirements_say_what_to_install() -> None:
    missing = [obs_build.Missing("libobs (pkg-config finds none)", "libobs-dev"),
               obs_build.Missing("a C compiler (gcc)", "gcc"),
               obs_build.Missing("the Python module pip", command="/venv/bin/python -m pip install pip")]
    assert obs_build.describe_missing(missing) == (
        "missing libobs (pkg-config finds none), a C compiler (gcc), the Python module pip; on Debian: sudo apt-get "
        "install libobs-dev gcc; /venv/bin/python -m pip install pip")
    if REQUIRE:  # CI: scripts/setup installed all of it
        assert obs_build.missing_build_requirements() == []


def test_uninstall_removes_exactly_what_install_added(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home)}
    root = obs_studio.config_root(env)
    path = root / "basic" / "scenes" / "Mein.json"
    data = _collection()
    data["modules"]["scripts-tool"].append({"path": "/usr/local/share/wlcap/wlcap.py", "settings": {}})
    _write(path, data)
    script = obs_install.data_dir(None, env) / "wlcap.py"
    said: list[str] = []
    obs_install.register(script, root, said.append)
    assert any("also loads /usr/local/share/wlcap/wlcap.py" in line for line in said), said  # a cmake install
    (script.parent / "wlcap-python" / "capture").mkdir(parents=True)
    script.write_text("# wlcap\n")

    assert obs_install.uninstall(None, env, said.append) == 0
    assert json.loads(path.read_text()) == data
    assert not script.parent.exists()
    assert sorted(p.name for p in path.parent.iterdir()) == ["Mein.json"]  # install's backup gone too
    assert obs_install.uninstall(None, env, said.append) == 0  # twice: nothing left to do, no error
    assert said[-2] == f"no wlcap files were installed in {script.parent}"


def test_first_collection_obs29_and_obs31(tmp_path: Path) -> None:
    script = "/home/u/.local/share/wlcap/wlcap.py"
    root = tmp_path / "29"
    written = obs_config.create_first_collection(root, (29, 0), script)
    assert written == [root / "global.ini", root / "basic" / "scenes" / "Untitled.json"]
    assert (root / "global.ini").read_text() == "[Basic]\nSceneCollection=Untitled\nSceneCollectionFile=Untitled\n"
    collection = json.loads(written[1].read_text())
    assert collection["name"] == "Untitled" and obs_config.script_paths(collection) == [script]
    assert collection["scene_order"] == [{"name": "Scene"}]

    root = tmp_path / "31"
    obs_config.create_first_collection(root, (31, 1), script)
    assert (root / "user.ini").is_file() and not (root / "global.ini").exists()

    # OBS 29 ran last, with a collection of its own name: OBS 31 will copy global.ini to user.ini at its
    # next start (and refuses to if user.ini exists), so global.ini is what to edit.
    root = tmp_path / "29-then-31"
    root.mkdir()
    (root / "global.ini").write_text("[General]\nLastVersion=486539266\n\n[Basic]\nProfile=Untitled\n"
                                     "SceneCollection=Show\nSceneCollectionFile=Show\n\n[Video]\nRenderer=OpenGL\n")
    before = (root / "global.ini").read_text()
    assert obs_config.create_first_collection(root, (31, 0), script) == [root / "basic" / "scenes" / "Show.json"]
    assert (root / "global.ini").read_text() == before and not (root / "user.ini").exists()
    assert json.loads((root / "basic" / "scenes" / "Show.json").read_text())["name"] == "Show"


def test_ini_add_missing_keeps_every_other_line() -> None:
    text = "[General]\nFirstRun=true\n\n[basic]\nprofile=Untitled\n\n[Video]\nBaseCX=1920\n"
    updated = obs_config.ini_add_missing(text, "Basic", {"Profile": "x", "SceneCollection": "Untitled"})
    assert updated == ("[General]\nFirstRun=true\n\n[basic]\nprofile=Untitled\nSceneCollection=Untitled\n\n"
                       "[Video]\nBaseCX=1920\n")
    assert obs_config.ini_add_missing("", "Basic", {"A": "1"}) == "[Basic]\nA=1\n"


def test_scenes_dir_follows_obs31_locations(tmp_path: Path) -> None:
    root = tmp_path / "obs-studio"
    root.mkdir()
    assert obs_config.scenes_dir(root) == root / "basic" / "scenes"
    elsewhere = tmp_path / "sync"
    elsewhere.mkdir()
    (root / "global.ini").write_text(f"[Locations]\nConfiguration={tmp_path}\nSceneCollections={elsewhere}\n")
    assert obs_config.scenes_dir(root) == elsewhere / "obs-studio" / "basic" / "scenes"


def test_data_dir_and_config_root_follow_xdg(tmp_path: Path) -> None:
    home = str(tmp_path)
    assert obs_install.data_dir(None, {"HOME": home}) == tmp_path / ".local" / "share" / "wlcap"
    assert obs_install.data_dir(None, {"HOME": home, "XDG_DATA_HOME": "/d"}) == Path("/d/wlcap")
    assert obs_install.data_dir(None, {"HOME": home, "XDG_DATA_HOME": "rel"}) == tmp_path / ".local/share/wlcap"
    assert obs_install.data_dir(tmp_path / "p", {"HOME": home}) == tmp_path / "p" / "share" / "wlcap"
    assert obs_studio.config_root({"HOME": home}) == tmp_path / ".config" / "obs-studio"
    assert obs_studio.config_root({"HOME": home, "XDG_CONFIG_HOME": "/c"}) == Path("/c/obs-studio")


def test_source_tree_is_found_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "prefix", str(REPO / ".venv"))
    monkeypatch.chdir(tmp_path)
    assert obs_build.find_source(None) == REPO
    assert obs_build.find_source(REPO) == REPO
    with pytest.raises(obs_studio.ObsSetupError, match="not a wlcap source tree"):
        obs_build.find_source(tmp_path)
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    with pytest.raises(obs_studio.ObsSetupError, match="--source DIR"):
        obs_build.find_source(None)


def test_the_build_copies_the_tree_without_its_outputs(tmp_path: Path) -> None:
    tree = obs_build._copy_source(REPO, tmp_path)
    assert obs_build.is_source_tree(tree) and (tree / "native" / "obs" / "src").is_dir()
    names = {path.name for path in tree.rglob("*")}
    assert not names & {".venv", "tests", "tools", "__pycache__", "_generated", "_native.abi3.so"}


def test_embedded_python_is_read_from_libobs_scripting() -> None:
    _need("obs")
    library = obs_studio.scripting_library()
    needed = obs_studio.elf_needed(library)
    if shutil.which("readelf"):
        out = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True, check=True).stdout
        assert needed == [line.split("[")[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]
    assert obs_studio.embedded_python(library) == sys.version_info[:2]  # this Python is the one OBS embeds
    with pytest.raises(obs_studio.ObsSetupError, match="links no libpython"):
        obs_studio.embedded_python(Path(sys.executable).resolve())


def test_running_obs_on_this_config_is_seen(tmp_path: Path) -> None:
    fake = tmp_path / "obs"  # a process named obs, as OBS's is
    shutil.copy("/bin/sleep", fake)
    home = tmp_path / "home"
    process = subprocess.Popen([str(fake), "30"], env={"HOME": str(home)})
    try:
        root = obs_studio.config_root({"HOME": str(home)})
        deadline = time.monotonic() + 5
        while process.pid not in obs_studio.running_obs(root) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.pid in obs_studio.running_obs(root)
        assert process.pid not in obs_studio.running_obs(obs_studio.config_root({"HOME": str(tmp_path / "other")}))
        with pytest.raises(obs_studio.ObsSetupError, match=f"OBS is running \\(pid {process.pid}\\)"):
            obs_install.uninstall(None, {"HOME": str(home)}, print)
    finally:
        process.kill()
        process.wait()


# --- the user's path, with the real OBS ---------------------------------------------------------------

@pytest.fixture()
def desktop() -> Iterator[tuple[SwayHeadless, Xvfb]]:
    for binary in ("sway", "obs", "Xvfb"):
        _need(binary)
    missing = obs_build.missing_build_requirements()
    if missing:
        (pytest.fail if REQUIRE else pytest.skip)(f"cannot build wlcap for OBS: {obs_build.describe_missing(missing)}")
    sway, xvfb = SwayHeadless(320, 240), Xvfb()
    yield sway, xvfb
    xvfb.stop()
    sway.stop()


def _user_env(home: Path, sway: SwayHeadless, xvfb: Xvfb) -> dict[str, str]:
    """A user's session: their own HOME and XDG folders (not the defaults, to check they are followed),
    the compositor, and nothing that points OBS at this checkout's wlcap."""
    env = obs_env(sway.env, xvfb.display)
    for key in ("WLCAP_PYTHONPATH", "PYTHONPATH", "SUDO_USER", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        env.pop(key, None)
    home.mkdir(parents=True, exist_ok=True)
    return dict(env, HOME=str(home), XDG_CONFIG_HOME=str(home / "settings"), XDG_DATA_HOME=str(home / "data"))


def _wlcap(env: dict[str, str], *args: str) -> list[str]:
    result = subprocess.run([sys.executable, "-m", "capture", "obs", *args], env=same_capture_env(env),
                            capture_output=True, text=True, timeout=600, cwd="/")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""
    return result.stdout.splitlines()


def _captures_sway(obs: UserObs) -> None:
    kinds = obs.request("GetInputKindList")["inputKinds"]
    assert "wlcap_capture" in kinds, obs.log()[-3000:]
    scene = obs.request("GetCurrentProgramScene")["currentProgramSceneName"]
    obs.request("CreateInput", sceneName=scene, inputName="Wayland", inputKind="wlcap_capture",
                inputSettings={"output": "HEADLESS-1"}, sceneItemEnabled=True)
    deadline, pixel = time.monotonic() + 30, None
    while True:
        # Until the first frame the source has no size, and OBS renders no screenshot of it.
        status, shot = obs.try_request("GetSourceScreenshot", sourceName="Wayland", imageFormat="png")
        if status["result"]:
            width, height, rows, _ = png.Reader(bytes=base64.b64decode(shot["imageData"].split(",", 1)[1])).asRGBA8()
            row = list(rows)[height // 2]
            pixel = tuple(row[width // 2 * 4:width // 2 * 4 + 3])
            if pixel == SWAY_BACKGROUND:
                return
        assert time.monotonic() < deadline, f"OBS shows {pixel}, not sway's {SWAY_BACKGROUND}: {obs.log()[-3000:]}"
        time.sleep(0.5)


def _scripts(env: dict[str, str]) -> list[str]:
    root = obs_studio.config_root(env)
    return [path for file in obs_config.collection_files(obs_config.scenes_dir(root))
            for path in obs_config.script_paths(obs_config.read_collection(file))]


def test_install_into_the_config_obs_wrote(tmp_path: Path, desktop: tuple[SwayHeadless, Xvfb]) -> None:
    sway, xvfb = desktop
    env = _user_env(tmp_path / "home", sway, xvfb)
    script = Path(env["XDG_DATA_HOME"]) / "wlcap" / "wlcap.py"

    obs = UserObs(env, xvfb.display)  # OBS's first start: it writes its own configuration
    try:
        assert "wlcap_capture" not in obs.request("GetInputKindList")["inputKinds"]
        scene = obs.request("GetCurrentProgramScene")["currentProgramSceneName"]
        obs.request("CreateInput", sceneName=scene, inputName="Kept", inputKind="color_source_v3",
                    inputSettings={"color": 4278255360}, sceneItemEnabled=True)
    finally:
        obs.stop()
    [collection] = obs_config.collection_files(obs_config.scenes_dir(obs_studio.config_root(env)))
    before = obs_config.read_collection(collection)

    said = _wlcap(env, "install", "--source", str(REPO))
    assert said[-1] == obs_install.NEXT_STEP
    assert any(line.startswith("added wlcap's script to the scene collection") for line in said), said
    after = obs_config.read_collection(collection)
    before["modules"]["scripts-tool"].append({"path": str(script), "settings": {}})
    assert after == before

    obs = UserObs(env, xvfb.display)
    try:
        _captures_sway(obs)
        assert "Kept" in [i["inputName"] for i in obs.request("GetInputList")["inputs"]]
        assert f"[wlcap] loaded from {script.parent / 'wlcap-python' / 'wlcap_obs'}" in obs.log()
    finally:
        obs.stop()
    assert _scripts(env) == [str(script)]  # OBS wrote the collection back, with the script

    said = _wlcap(env, "install", "--source", str(REPO))  # again: nothing added twice
    assert any("loads wlcap's script already" in line for line in said), said
    assert _scripts(env) == [str(script)]

    said = _wlcap(env, "uninstall")
    assert said[-1] == "OBS will start without wlcap."
    assert _scripts(env) == [] and not script.parent.exists()
    assert not list(collection.parent.glob("*.wlcap-backup"))
    obs = UserObs(env, xvfb.display)
    try:
        assert "wlcap_capture" not in obs.request("GetInputKindList")["inputKinds"]
        assert "Kept" in [i["inputName"] for i in obs.request("GetInputList")["inputs"]]
        assert "[wlcap]" not in obs.log()
    finally:
        obs.stop()


def test_install_before_obs_ever_ran(tmp_path: Path, desktop: tuple[SwayHeadless, Xvfb]) -> None:
    sway, xvfb = desktop
    env = _user_env(tmp_path / "home", sway, xvfb)
    said = _wlcap(env, "install", "--source", str(REPO))
    assert any(line.startswith("OBS has not been started yet: created its first scene collection") for line in said)

    obs = UserObs(env, xvfb.display)  # a first start (the first-run wizard shows), on what install wrote
    try:
        _captures_sway(obs)
        assert obs.request("GetSceneCollectionList")["currentSceneCollectionName"] == "Untitled"
    finally:
        obs.stop()
    script = Path(env["XDG_DATA_HOME"]) / "wlcap" / "wlcap.py"
    assert _scripts(env) == [str(script)]


def test_install_refuses_a_python_other_than_obs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _need("obs")
    monkeypatch.setattr(obs_studio, "embedded_python", lambda library: (3, 99))
    with pytest.raises(obs_studio.ObsSetupError, match=r"OBS embeds Python 3\.99 .*`python3\.99 -m venv"):
        obs_install.install(REPO, None, {"HOME": str(tmp_path)}, print)
    assert not (tmp_path / ".local").exists()


def test_cli_failure_is_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path))
    env.pop("SUDO_USER", None)
    result = subprocess.run([sys.executable, "-m", "capture", "obs", "install", "--source", str(tmp_path)],
                            env=same_capture_env(env), capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("wlcap: "), result.stderr
