"""Real desktops for the compositor matrix (guest tier, tests/desktops): each compositor started on the
virtio-gpu card through seatd, as a user's session starts it, and real clients shown on it.

Everything here runs as root inside the guest; the compositors and their clients run as the guest's
user `wl`, as on a desktop, and the tests (root) reach their sockets.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.clients import client_command

LOG_DIR = Path(os.environ.get("WLCAP_SHARE", "/tmp")) / "desktops"  # logs, pictures, results.json
RESULTS = LOG_DIR / "results.json"
USER = "wl"
UID = 1000
RUNTIME_DIR = Path("/run/user/1000")
HOME = Path("/home/wl")
REPO = Path(__file__).resolve().parent.parent.parent
SEATD_SOCKET = Path("/run/seatd.sock")
BACKGROUND = "204060"  # every compositor paints this where no window is (where it lets us choose)
OBS_TOLERANCE = 2  # OBS's colour pipeline may round a channel by this much

# A terminal's worth of real text: letters, digits, punctuation and wide glyphs, so that a capture
# that is off by a pixel, a row or a channel differs from grim's.
TERMINAL_TEXT = [
    "wlcap matrix: the quick brown fox jumps over the lazy dog 0123456789",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG !\"#$&()*+,-./:;<=>?@[]^_{|}~",
    "éèê ß æøå → ← █▓▒░ ┌─┐ │x│ └─┘ ▲▼◆●",
]


def record(name: str, **facts: Any) -> None:
    """Add what was measured about a compositor to the results the README's table is written from."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault(name, {}).update(facts)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True))


def card_node(driver: str = "virtio_gpu") -> str:
    """The primary node of the DRM device whose kernel driver is `driver`."""
    from capture.buffers.native import drm_node_renders

    for card in sorted(Path("/dev/dri").glob("card[0-9]*")):
        if drm_node_renders(str(card))[1] == driver:
            return str(card)
    raise RuntimeError(f"no DRM card driven by {driver}")


def user_environment(**extra: str) -> dict[str, str]:
    """What a process of the user's session sees (nothing of root's environment leaks in)."""
    env = {"HOME": str(HOME), "USER": USER, "LOGNAME": USER, "PATH": "/usr/local/bin:/usr/bin:/bin",
           "LANG": "C.UTF-8", "XDG_RUNTIME_DIR": str(RUNTIME_DIR), "LIBSEAT_BACKEND": "seatd"}
    env.update(extra)
    return env


def as_user(argv: Sequence[str]) -> list[str]:
    return ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--init-groups", *argv]


def ensure_seatd(log_dir: Path) -> None:
    """seatd gives the compositors the seat (DRM master) without logind, as on a minimal desktop."""
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(SEATD_SOCKET))
            return
        except OSError:
            SEATD_SOCKET.unlink(missing_ok=True)  # a stale socket of a seatd that was stopped
    with (log_dir / "seatd.log").open("ab") as log:
        subprocess.Popen(["seatd", "-u", USER, "-g", USER], stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    deadline = time.monotonic() + 10
    while not SEATD_SOCKET.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("seatd did not start")
        time.sleep(0.05)


def prepare_runtime_dir() -> None:
    """The user's XDG_RUNTIME_DIR, emptied of what an earlier compositor left (a stale socket would
    make the next compositor pick another name)."""
    RUNTIME_DIR.mkdir(parents=True, exist_ok=True)
    os.chown(RUNTIME_DIR, UID, UID)
    RUNTIME_DIR.chmod(0o700)
    for entry in RUNTIME_DIR.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


@dataclass(frozen=True)
class Compositor:
    """How one compositor is started as a user runs it, and what it offers to move windows with."""

    name: str
    # (config folder, card) -> argv
    argv: Callable[[Path, str], list[str]]
    # card -> environment added to the user's
    environment: Callable[[str], dict[str, str]]
    version_argv: list[str]
    # file name -> contents, written into the config folder before the start
    config: dict[str, str] = field(default_factory=dict)
    # False: it offers neither capture protocol (weston has only its own weston_capture_v1).
    offers_capture: bool = True
    # cage runs the terminal itself: it is its one application.
    runs_terminal: bool = False

    def version(self) -> str:
        result = subprocess.run(self.version_argv, capture_output=True, text=True, timeout=30)
        line = (result.stdout or result.stderr).strip().splitlines()[0]
        return next((word for word in line.split() if word[:1].isdigit()), line)


def wlroots_environment(card: str) -> dict[str, str]:
    return {"WLR_BACKENDS": "drm", "WLR_DRM_DEVICES": card, "WLR_RENDERER": "gles2",
            "WLR_LIBINPUT_NO_DEVICES": "1"}


SWAY_CONFIG = f"""\
output * bg #{BACKGROUND} solid_color
default_border none
"""

# A software GPU: no animations, no splash or logo, no update or donation popups, no Xwayland.
HYPRLAND_CONFIG = f"""\
monitor = ,preferred,auto,1
animations {{
    enabled = false
}}
misc {{
    disable_hyprland_logo = true
    disable_splash_rendering = true
    force_default_wallpaper = 0
    background_color = 0xff{BACKGROUND}
}}
# On virtio-gpu Hyprland draws a software cursor into every frame, asked for or not; hide it while the
# pointer rests, so that a window's capture (which never holds it) can be found on the screen.
cursor {{
    inactive_timeout = 1
}}
ecosystem {{
    no_update_news = true
    no_donation_nag = true
}}
xwayland {{
    enabled = false
}}
"""


class Desktop:
    """One compositor running on the DRM card as the user, and the clients started on it."""

    def __init__(self, compositor: Compositor, log_dir: Path) -> None:
        self.compositor = compositor
        self.name = compositor.name
        self.log_dir = log_dir
        self.card = card_node()
        self.clients: list[subprocess.Popen[str]] = []
        log_dir.mkdir(parents=True, exist_ok=True)
        ensure_seatd(log_dir)
        prepare_runtime_dir()
        self.config_dir = Path(f"/tmp/wlcap-desktop-{self.name}")
        shutil.rmtree(self.config_dir, ignore_errors=True)
        self.config_dir.mkdir(mode=0o755)
        for name, text in compositor.config.items():
            (self.config_dir / name).write_text(text)
        env = user_environment(**compositor.environment(self.card))
        self.log_path = log_dir / f"{self.name}.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(as_user(compositor.argv(self.config_dir, self.card)), env=env,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=str(HOME), start_new_session=True)
        self.socket = self._wait_for_socket(60)
        self.env = dict(os.environ, XDG_RUNTIME_DIR=str(RUNTIME_DIR), WAYLAND_DISPLAY=self.socket)
        self.env.pop("DISPLAY", None)

    def _wait_for_socket(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sockets = sorted(p.name for p in RUNTIME_DIR.glob("wayland-[0-9]*") if not p.name.endswith(".lock"))
            if sockets:
                return sockets[0]
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} made no Wayland socket within {timeout:g} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def user_env(self, **extra: str) -> dict[str, str]:
        return user_environment(WAYLAND_DISPLAY=self.socket, **extra)

    def client(self, argv: Sequence[str], *, stdin: int | None = subprocess.DEVNULL,
               stdout: int | None = subprocess.DEVNULL, **extra_env: str) -> subprocess.Popen[str]:
        """Start a client of the user's session on this desktop; stopped with the desktop."""
        with (self.log_dir / f"{self.name}-client-{len(self.clients)}.log").open("w") as log:
            process = subprocess.Popen(as_user(argv), env=self.user_env(**extra_env), stdin=stdin,
                                       stdout=stdout if stdout is not None else log, stderr=log, text=True,
                                       cwd=str(HOME), start_new_session=True)
        self.clients.append(process)
        return process

    def stop(self) -> None:
        for process in [*self.clients, self.process]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.clients, self.process]:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class Terminal:
    """foot showing TERMINAL_TEXT and, below it, a counter that repaints a small area five times a
    second until `pause` (a file the loop looks for) holds it still for an exact comparison."""

    PAUSE = Path("/tmp/wlcap-terminal-paused")
    APP_ID = "wlcap.foot"

    @classmethod
    def argv(cls, title: str) -> list[str]:
        lines = "".join(f"{line}\\n" for line in TERMINAL_TEXT)
        loop = (f"printf '{lines}'; i=0; while :; do "
                f"if [ ! -e {cls.PAUSE} ]; then i=$((i+1)); printf '\\rrepainting %06d' $i; fi; sleep 0.2; done")
        return ["foot", "--app-id", cls.APP_ID, "--title", f"wlcap terminal on {title}",
                "-o", "font=DejaVu Sans Mono:size=11", "-o", "cursor.blink=no", "sh", "-c", loop]

    @classmethod
    def pause(cls) -> None:
        cls.PAUSE.touch()
        time.sleep(0.6)  # the last repaint lands; foot draws nothing more after it

    @classmethod
    def resume(cls) -> None:
        cls.PAUSE.unlink(missing_ok=True)


class KnownWindow:
    """capture.testwindow (known pixels) as a client of the desktop, driven over its stdin. A thread
    reads what it reports, so `width` and `height` follow every configure the compositor sends."""

    APP_ID = "wlcap.test"

    def __init__(self, desktop: Desktop, colour: str = "e0a040", app_id: str = APP_ID, ten_bit: bool = False) -> None:
        self.colour = colour
        self.app_id = app_id
        self.process = desktop.client(
            [*client_command("testwindow"), "--app-id", app_id, "--title", "wlcap test window",
             "--colour", colour, *(["--ten-bit"] if ten_bit else [])], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            PYTHONPATH=str(REPO))
        self.width = self.height = 0
        self._reports: list[str] = []  # the WHY of each `drawn` line, in order
        self._changed = threading.Condition()
        threading.Thread(target=self._read, name="known-window", daemon=True).start()
        self.wait_drawn("configure")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            words = line.split()
            with self._changed:
                if len(words) == 5 and words[0] == "drawn":
                    if words[4] in ("configure", "resize"):
                        self.width, self.height = int(words[2]), int(words[3])
                    self._reports.append(words[4])
                self._changed.notify_all()

    def wait_drawn(self, why: str, timeout: float = 60) -> None:
        """Until the window has drawn for `why` (since the last wait for it)."""
        with self._changed:
            if not self._changed.wait_for(lambda: why in self._reports, timeout):
                raise AssertionError(f"the test window did not draw for {why!r} within {timeout:g} s")
            self._reports = self._reports[self._reports.index(why) + 1:]

    def wait_for_size_change(self, old: tuple[int, int], timeout: float = 30) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: (self.width, self.height) != old, timeout):
                raise AssertionError(f"the test window kept its size {old[0]}x{old[1]} for {timeout:g} s")

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def resize(self, width: int, height: int) -> None:
        """The client picks its own size (what a floating window may do)."""
        self.send(f"size {width} {height}")
        self.wait_drawn("resize")


# Each compositor as a user starts it (the clients above are what its tests show on it).
COMPOSITORS = {
    "sway": Compositor(
        "sway", lambda config, card: ["sway", "-c", str(config / "sway.conf")], wlroots_environment,
        ["sway", "--version"], {"sway.conf": SWAY_CONFIG}),
    "hyprland": Compositor(
        "hyprland", lambda config, card: ["Hyprland", "-c", str(config / "hyprland.conf")],
        lambda card: {"AQ_DRM_DEVICES": card, "HYPRLAND_NO_SD_NOTIFY": "1"}, ["Hyprland", "--version"],
        {"hyprland.conf": HYPRLAND_CONFIG}),
    "labwc": Compositor(
        "labwc", lambda config, card: ["labwc", "-C", str(config)], wlroots_environment, ["labwc", "--version"],
        # labwc floats every window where it sees fit; these rules keep the two apart.
        {"rc.xml": "<labwc_config><windowRules>\n"
                   f'<windowRule identifier="{Terminal.APP_ID}"><action name="MoveTo" x="20" y="40"/>'
                   "</windowRule>\n"
                   f'<windowRule identifier="{KnownWindow.APP_ID}"><action name="MoveTo" x="800" y="80"/>'
                   "</windowRule>\n"
                   "</windowRules></labwc_config>\n",
         "autostart": f"swaybg -c '#{BACKGROUND}' >/dev/null 2>&1 &\n"}),
    # cage is a kiosk: it shows one application, which its command line names, and ends with it.
    "cage": Compositor(
        "cage", lambda config, card: ["cage", "--", *Terminal.argv("cage")], wlroots_environment, ["cage", "-v"],
        runs_terminal=True),
    "weston": Compositor(
        "weston", lambda config, card: ["weston", "--backend=drm", f"--drm-device={Path(card).name}",
                                        "--continue-without-input", "--idle-time=0"],
        lambda card: {}, ["weston", "--version"], offers_capture=False),
}
