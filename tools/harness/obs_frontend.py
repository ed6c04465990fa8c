"""The OBS Studio app (frontend) run headless on Xvfb and driven through its bundled obs-websocket
(v5 protocol): what the demo uses, and what its test checks.

OBS 29 reads obs-websocket's settings from global.ini; scripts listed in a scene collection's
"scripts-tool" entry load before its sources are created. OBS is stopped the way a user closes it: its
main window gets WM_DELETE_WINDOW (x11_close.py), and the normal shutdown runs (the leak count is
logged). OBS 29's SIGINT handler calls into Qt from the signal handler and hung now and then here;
SIGTERM kills without cleanup: both are only fallbacks.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import websocket  # websocket-client
from harness.x11_close import close_windows

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scene_collection(script: Path) -> dict[str, Any]:
    return {
        "name": "wlcap",
        "current_scene": "Scene",
        "current_program_scene": "Scene",
        "scene_order": [{"name": "Scene"}],
        "sources": [{"id": "scene", "versioned_id": "scene", "name": "Scene",
                     "settings": {"items": [], "id_counter": 0}}],
        "modules": {"scripts-tool": [{"path": str(script), "settings": {}}]},
        "groups": [],
        "transitions": [],
        "current_transition": "Fade",
        "transition_duration": 300,
    }


class ObsApp:
    def __init__(self, env: dict[str, str], script: Path, record_dir: Path, width: int, height: int) -> None:
        self.display = env["DISPLAY"]
        self.home = Path(tempfile.mkdtemp(prefix="wlcap-obs-home-"))
        self.port = free_port()
        config = self.home / ".config" / "obs-studio"
        (config / "basic" / "scenes").mkdir(parents=True)
        (config / "basic" / "profiles" / "wlcap").mkdir(parents=True)
        (config / "global.ini").write_text(GLOBAL_INI.format(port=self.port))
        (config / "basic" / "profiles" / "wlcap" / "basic.ini").write_text(
            BASIC_INI.format(width=width, height=height, record_dir=record_dir))
        (config / "basic" / "scenes" / "wlcap.json").write_text(json.dumps(scene_collection(script)))
        self.stdout = open(self.home / "obs.out", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(["obs", "--multi"], env=dict(env, HOME=str(self.home)),
                                        stdout=self.stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        cwd=str(self.home))
        self.ws = self._connect(timeout=60)

    def _connect(self, timeout: float) -> websocket.WebSocket:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"OBS exited with {self.process.returncode}: {self.log()[-2000:]}")
            try:
                ws = websocket.create_connection(f"ws://127.0.0.1:{self.port}", timeout=30)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"obs-websocket did not come up: {self.log()[-2000:]}") from None
                time.sleep(0.3)
        json.loads(ws.recv())  # Hello (op 0)
        ws.send(json.dumps({"op": 1, "d": {"rpcVersion": 1}}))  # Identify, no authentication
        identified = json.loads(ws.recv())
        assert identified["op"] == 2, identified
        return ws

    def request(self, request_type: str, **data: Any) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        self.ws.send(json.dumps({"op": 6, "d": {"requestType": request_type, "requestId": request_id,
                                                "requestData": data}}))
        while True:
            message = json.loads(self.ws.recv())
            if message["op"] == 7 and message["d"]["requestId"] == request_id:
                status = message["d"]["requestStatus"]
                if not status["result"]:
                    raise RuntimeError(f"{request_type} failed: {status}")
                return message["d"].get("responseData") or {}

    def log(self) -> str:
        logs = sorted((self.home / ".config" / "obs-studio" / "logs").glob("*.txt"))
        return logs[-1].read_text(errors="replace") if logs else (self.home / "obs.out").read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """Close OBS's main window as a user does; returns OBS's exit status. `stop_method` says
        what it took."""
        with contextlib.suppress(OSError):
            self.ws.close()
        self.stop_method = "window close"
        for method, ask in (("window close", lambda: close_windows(self.display, "OBS ")),
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


def obs_env(wayland_env: dict[str, str], display: str) -> dict[str, str]:
    """OBS itself runs on X11 (Xvfb, EGL on llvmpipe) while wlcap reaches the Wayland compositor
    through WAYLAND_DISPLAY: Qt must not pick its Wayland platform."""
    return dict(wayland_env, DISPLAY=display, QT_QPA_PLATFORM="xcb")
