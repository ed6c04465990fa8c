"""The OBS Studio app (frontend) run headless on Xvfb and driven through its bundled obs-websocket
(v5 protocol): what the demo uses, and what its test checks.

OBS 29 reads obs-websocket's settings from global.ini; scripts listed in a scene collection's
"scripts-tool" entry load before its sources are created. OBS is stopped the way a user closes it: its
main window gets WM_DELETE_WINDOW (x11_close.py), and the normal shutdown runs (the leak count is
logged). OBS 29's SIGINT handler calls into Qt from the signal handler and hung now and then here;
SIGTERM kills without cleanup: both are only fallbacks.
"""

from __future__ import annotations

import base64
import contextlib
import json
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import websocket  # websocket-client
from harness.x11_close import close_windows

# An OBS script that reloads another loaded script on request, as Tools -> Scripts' "Reload Scripts"
# does (obs_scripts/reload_control.py; the Unix socket WLCAP_RELOAD_SOCKET names); ScriptReloads talks to it.
RELOAD_CONTROL = Path(__file__).resolve().parent / "obs_scripts" / "reload_control.py"

GLOBAL_INI = """\
[General]
FirstRun=true
ConfirmOnExit=false
EnableAutoUpdates=false

[BasicWindow]
SysTrayEnabled=false

[Basic]
SceneCollection=wlcap
SceneCollectionFile=wlcap
Profile=wlcap
ProfileDir=wlcap

[OBSWebSocket]
FirstLoad=false
ServerEnabled=true
ServerPort={port}
AlertsEnabled=false
AuthRequired=false
ServerPassword=
"""

BASIC_INI = """\
[General]
Name=wlcap

[Video]
BaseCX={width}
BaseCY={height}
OutputCX={width}
OutputCY={height}
FPSType=0
FPSCommon=30

[Output]
Mode=Simple

[SimpleOutput]
FilePath={record_dir}
RecFormat=mkv
RecQuality=Small
RecEncoder=x264
Preset=ultrafast
"""


NOT_READY = 207  # obs-websocket's RequestStatus::NotReady


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scene_collection(scripts: Sequence[Path]) -> dict[str, Any]:
    return {
        "name": "wlcap",
        "current_scene": "Scene",
        "current_program_scene": "Scene",
        "scene_order": [{"name": "Scene"}],
        "sources": [{"id": "scene", "versioned_id": "scene", "name": "Scene",
                     "settings": {"items": [], "id_counter": 0}}],
        "modules": {"scripts-tool": [{"path": str(script), "settings": {}} for script in scripts]},
        "groups": [],
        "transitions": [],
        "current_transition": "Fade",
        "transition_duration": 300,
    }


def write_websocket_settings(config: Path, port: int) -> None:
    """obs-websocket 5.5 and later (OBS 31+) read their settings from plugin_config; OBS 29's from
    global.ini's [OBSWebSocket], which the caller writes."""
    path = config / "plugin_config" / "obs-websocket" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"first_load": False, "server_enabled": True, "server_port": port,
                                "alerts_enabled": False, "auth_required": False, "server_password": ""}))


class ObsProcess:
    """The OBS app started on a HOME whose configuration (`config`, its obs-studio folder) has
    obs-websocket listening on `port`, and driven through it. `close` closes OBS's main window as a
    user would; the default is X11's WM_DELETE_WINDOW on env's DISPLAY (on Wayland it takes the
    compositor's way)."""

    def __init__(self, env: dict[str, str], config: Path, port: int, *, close: Callable[[], object] | None = None,
                 start_timeout: float = 60) -> None:
        display = env.get("DISPLAY", "")
        self.close_main_window = close or (lambda: close_windows(display, "OBS "))
        self.config, self.port = config, port
        self.out = Path(env["HOME"]) / f"obs-{port}.out"
        self.stdout = open(self.out, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(["obs", "--multi"], env=env, stdout=self.stdout, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=env["HOME"])
        self.ws = self._connect(timeout=start_timeout)
        self._wait_until_ready(timeout=start_timeout)

    def _connect(self, timeout: float) -> websocket.WebSocket:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"OBS exited with {self.process.returncode}: {self.log()[-2000:]}")
            try:
                ws = websocket.create_connection(f"ws://127.0.0.1:{self.port}", timeout=30)
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"obs-websocket did not come up on port {self.port} ({exc}): "
                                       f"{self.log()[-2000:]}") from None
                time.sleep(0.3)
        json.loads(ws.recv())  # Hello (op 0)
        ws.send(json.dumps({"op": 1, "d": {"rpcVersion": 1}}))  # Identify, no authentication
        identified = json.loads(ws.recv())
        assert identified["op"] == 2, identified
        return ws

    def try_request(self, request_type: str, **data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """(requestStatus, responseData) of a request that may fail."""
        request_id = str(uuid.uuid4())
        self.ws.send(json.dumps({"op": 6, "d": {"requestType": request_type, "requestId": request_id,
                                                "requestData": data}}))
        while True:
            message = json.loads(self.ws.recv())
            if message["op"] == 7 and message["d"]["requestId"] == request_id:
                return message["d"]["requestStatus"], message["d"].get("responseData") or {}

    def request(self, request_type: str, **data: Any) -> dict[str, Any]:
        status, response = self.try_request(request_type, **data)
        if not status["result"]:
            raise RuntimeError(f"{request_type} failed: {status}")
        return response

    def _wait_until_ready(self, timeout: float) -> None:
        """obs-websocket listens before OBS has loaded its scenes, and answers "not ready" till then."""
        deadline = time.monotonic() + timeout
        while (status := self.try_request("GetSceneList")[0])["code"] == NOT_READY:
            if time.monotonic() > deadline:
                raise RuntimeError(f"OBS was not ready in {timeout} s: {self.log()[-2000:]}")
            time.sleep(0.5)
        if not status["result"]:
            raise RuntimeError(f"GetSceneList failed: {status}")

    def source_centre(self, source: str) -> tuple[int, int, int] | None:
        """(R, G, B) at the centre of OBS's screenshot of `source` (obs-websocket GetSourceScreenshot);
        None while OBS renders none (a source without a frame yet has no size)."""
        import png  # pypng, a test dependency: the demo, which imports this module, needs none

        status, shot = self.try_request("GetSourceScreenshot", sourceName=source, imageFormat="png")
        if not status["result"]:
            return None
        width, height, rows, _info = png.Reader(bytes=base64.b64decode(shot["imageData"].split(",", 1)[1])).asRGBA8()
        row = list(rows)[height // 2]
        red, green, blue = row[width // 2 * 4:width // 2 * 4 + 3]
        return red, green, blue

    def log(self) -> str:
        logs = sorted((self.config / "logs").glob("*.txt"))
        return logs[-1].read_text(errors="replace") if logs else self.out.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """Close OBS's main window as a user does; returns OBS's exit status. `stop_method` says
        what it took."""
        with contextlib.suppress(OSError):
            self.ws.close()
        self.stop_method = "window close"
        for method, ask in (("window close", self.close_main_window),
                            ("SIGINT", lambda: self.process.send_signal(signal.SIGINT)),
                            ("SIGTERM", self.process.terminate), ("SIGKILL", self.process.kill)):
            self.stop_method = method
            with contextlib.suppress(OSError):
                ask()
            try:
                status = self.process.wait(timeout if method == "window close" else 10)
                break
            except subprocess.TimeoutExpired:
                continue
        self.stdout.close()
        return status


class ObsApp(ObsProcess):
    """OBS on a fresh HOME of its own: a profile at width x height recording into record_dir, and a
    scene collection with one empty scene that loads `script` (and `extra_scripts`)."""

    def __init__(self, env: dict[str, str], script: Path, record_dir: Path, width: int, height: int, *,
                 extra_scripts: Sequence[Path] = (), close: Callable[[], object] | None = None,
                 start_timeout: float = 60) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="wlcap-obs-home-"))
        port = free_port()
        config = self.home / ".config" / "obs-studio"
        (config / "basic" / "scenes").mkdir(parents=True)
        (config / "basic" / "profiles" / "wlcap").mkdir(parents=True)
        # OBS 31 and later read the frontend's settings from user.ini; OBS 29 from global.ini.
        for ini in ("global.ini", "user.ini"):
            (config / ini).write_text(GLOBAL_INI.format(port=port))
        write_websocket_settings(config, port)
        (config / "basic" / "profiles" / "wlcap" / "basic.ini").write_text(
            BASIC_INI.format(width=width, height=height, record_dir=record_dir))
        (config / "basic" / "scenes" / "wlcap.json").write_text(json.dumps(scene_collection([script, *extra_scripts])))
        super().__init__(dict(env, HOME=str(self.home)), config, port, close=close, start_timeout=start_timeout)


class ScriptReloads:
    """The test's end of RELOAD_CONTROL, loaded in the OBS app with WLCAP_RELOAD_SOCKET=`path`."""

    def __init__(self, path: Path, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.socket.connect(str(path))
                break
            except OSError:
                self.socket.close()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the reload control script does not listen on {path}") from None
                time.sleep(0.2)
        self.socket.settimeout(120)  # a reload that hangs fails the test instead of hanging it
        self.replies = self.socket.makefile("r")
        self._ask("ping")  # answered: the script holds this connection (an fd of OBS's from now on)

    def _ask(self, request: str) -> str:
        self.socket.sendall(f"{request}\n".encode())
        answer = self.replies.readline().strip()
        if answer != "ok" and not answer.startswith("ok "):
            raise RuntimeError(f"{request}: {answer or 'no answer'}")
        return answer[3:]

    def reload(self, file: str) -> bool:
        """Reload the loaded script FILE (e.g. wlcap.py) as Reload Scripts does; whether it loaded."""
        return self._ask(f"reload {file}") == "loaded"

    def heap_bytes(self) -> int:
        """What OBS has allocated with malloc and not freed (glibc's count, all threads)."""
        return int(self._ask("heap"))

    def python_objects(self) -> int:
        """The Python objects OBS's interpreter tracks, after a full collection."""
        return int(self._ask("objects"))

    def close(self) -> None:
        self.replies.close()
        self.socket.close()


def obs_env(wayland_env: dict[str, str], display: str) -> dict[str, str]:
    """OBS itself runs on X11 (Xvfb, EGL on llvmpipe) while wlcap reaches the Wayland compositor
    through WAYLAND_DISPLAY: Qt must not pick its Wayland platform."""
    return dict(wayland_env, DISPLAY=display, QT_QPA_PLATFORM="xcb")
