"""Real compositors for the tests: sway headless (the wlroots family wlcap targets) and weston
headless (a compositor without wlr-screencopy). Each runs with its own XDG_RUNTIME_DIR.

sway refuses to run as root, so as root it runs as an unprivileged uid through setpriv; the test
process (root) can still reach its sockets.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

UNPRIVILEGED_UID = 65534  # nobody

SWAY_CONFIG = """\
# wlcap test compositor
output HEADLESS-1 resolution {width}x{height}
output HEADLESS-1 bg {background} solid_color
default_border none
"""


def _wait_for(path: Path, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"compositor exited with {process.returncode}: {log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"compositor socket {path} did not appear: {log.read_text()[-2000:]}")
        time.sleep(0.05)


@contextmanager
def wayland_client_env(env: Mapping[str, str]) -> Iterator[None]:
    """Point this process's own Wayland clients (capture.Connection()) at the compositor `env` names,
    for the block."""
    keys = ("XDG_RUNTIME_DIR", "WAYLAND_DISPLAY")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update({key: env[key] for key in keys})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class HeadlessCompositor:
    """A compositor process with a private runtime dir; `env` is what a client needs."""

    socket_name = "wayland-1"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="wlcap-test-"))
        self.dir.chmod(0o755)
        self.runtime_dir = self.dir / "run"
        self.runtime_dir.mkdir(mode=0o700)
        self.log = self.dir / "compositor.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(XDG_RUNTIME_DIR=str(self.runtime_dir), WAYLAND_DISPLAY=self.socket_name)
        return env

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def _spawn(self, argv: list[str], env: dict[str, str], preexec_user: bool) -> None:
        if preexec_user and os.geteuid() == 0:
            os.chown(self.runtime_dir, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
            argv = ["setpriv", f"--reuid={UNPRIVILEGED_UID}", f"--regid={UNPRIVILEGED_UID}",
                    "--clear-groups", *argv]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        _wait_for(self.runtime_dir / self.socket_name, self.process, 20.0, self.log)

    def kill(self) -> None:
        """Make the compositor vanish at once, the way a crash does."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class SwayHeadless(HeadlessCompositor):
    def __init__(self, width: int = 640, height: int = 480, background: str = "#204060",
                 extra_config: str = "") -> None:
        super().__init__()
        self.width, self.height = width, height
        config = self.dir / "config"
        config.write_text(SWAY_CONFIG.format(width=width, height=height, background=background) + extra_config)
        config.chmod(0o644)
        home = self.dir / "home"
        home.mkdir()
        if os.geteuid() == 0:
            os.chown(home, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "WLR_BACKENDS": "headless",
            "WLR_RENDERER": "pixman",
            "WLR_LIBINPUT_NO_DEVICES": "1",
        }
        self._spawn(["sway", "-c", str(config)], env, preexec_user=True)
        self._wait_for_ipc()

    def _wait_for_ipc(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            sockets = list(self.runtime_dir.glob("sway-ipc.*.sock"))
            if sockets:
                self.ipc_socket = str(sockets[0])
                try:
                    self.outputs()
                    return
                except subprocess.CalledProcessError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"sway IPC did not come up: {self.log.read_text()[-2000:]}")

    def swaymsg(self, *args: str) -> list[dict[str, object]]:
        out = subprocess.run(["swaymsg", "-s", self.ipc_socket, "-r", *args], check=True,
                             capture_output=True, text=True, timeout=10).stdout
        reply = json.loads(out)
        if isinstance(reply, list) and any(not r.get("success", True) for r in reply):
            raise RuntimeError(f"swaymsg {' '.join(args)} failed: {reply}")
        return reply  # type: ignore[no-any-return]

    def outputs(self) -> list[dict[str, object]]:
        return self.swaymsg("-t", "get_outputs")

    def show_image(self, output: str, path: Path) -> None:
        # swaybg runs as the compositor's user: the image must be readable by it.
        path.chmod(0o644)
        self.swaymsg("output", output, "bg", str(path), "stretch")

    def show_colour(self, output: str, colour: str) -> None:
        self.swaymsg("output", output, "bg", colour, "solid_color")


# What the demo and the render benchmark show: moving content, so that every frame is new.
DEMO_COLOURS = ["#c0392b", "#27ae60", "#2980b9", "#f39c12"]


C = TypeVar("C")  # a colour, in whatever form `show` takes


class ColourCycle(Generic[C]):
    """A background thread that shows `colours` in turn, one every `interval` seconds, until stopped.
    `show` puts one on screen (e.g. ``lambda c: sway.show_colour("HEADLESS-1", c)``)."""

    def __init__(self, show: Callable[[C], object], colours: Sequence[C], interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(show, colours, interval), daemon=True)

    def _run(self, show: Callable[[C], object], colours: Sequence[C], interval: float) -> None:
        index = 0
        while not self._stop.wait(interval):
            show(colours[index % len(colours)])
            index += 1

    def start(self) -> ColourCycle[C]:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()


class WestonHeadless(HeadlessCompositor):
    """weston offers no wlr-screencopy: the compositor-without-the-protocol case."""

    socket_name = "wlcap-weston"

    def __init__(self) -> None:
        super().__init__()
        env = dict(os.environ, XDG_RUNTIME_DIR=str(self.runtime_dir))
        self._spawn(["weston", "--backend=headless-backend.so", f"--socket={self.socket_name}",
                     "--idle-time=0", "--shell=desktop-shell.so"], env, preexec_user=False)
