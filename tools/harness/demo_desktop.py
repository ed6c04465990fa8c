"""The desktop the demo records: sway headless with a bar and title bars, three foot terminals and a
moving pointer, all of them real clients running as sway's own user.

    +---------------------------------------------------------------+
    | 1                                         2026-01-01 12:00:00 |  swaybar
    | sh: a line every 50 ms        | ls -go /usr/bin               |
    |      1  12:00:00.05  [        | $ ls -go /usr/bin | head ...  |
    |      2  12:00:00.10  aa-exec  | -rwxr-xr-x 1 88456 ... apt    |
    |   +--------------------+      | ...                           |
    |   | floating (light)   |  <- moves and resizes (sway IPC)     |
    |   +--------------------+    the pointer wanders the left half |
    +---------------------------------------------------------------+

The left terminal prints a line every 50 ms; the right one prints a listing once and stays still, so
that a test can compare that region with grim's screenshot of the same screen; the floating one (a
light colour scheme, so it can be found in a frame) says what the demo shows, and moves and resizes
in the left half, with the pointer (a virtual pointer: sway headless has no input devices, hence no
cursor, without one).
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from harness.clients import client_command
from harness.compositor import UNPRIVILEGED_UID, SwayHeadless

SHELL_APP_ID = "demo-shell"
STILL_APP_ID = "demo-still"
FLOATING_APP_ID = "demo-floating"
APP_IDS = (SHELL_APP_ID, STILL_APP_ID, FLOATING_APP_ID)  # the order they open in: left, right, on top

BACKGROUND = "#3b5b7b"
FLOATING_BACKGROUND = "fdf6e3"  # foot's colours for the floating window (foot's own: light text on dark)
FLOATING_FOREGROUND = "073642"

SWAY_DESKTOP = """\
default_border normal 2
default_floating_border normal 2
gaps inner 6
font pango:DejaVu Sans {font_size}
bar {{
  position top
  font pango:DejaVu Sans {font_size}
  tray_output none
  status_command while date +'%Y-%m-%d %H:%M:%S'; do sleep 1; done
}}
for_window [app_id="{floating}"] floating enable
"""

# What each terminal runs (sh -c). `\033[?25l` hides the text cursor: a focus change would redraw it.
SHELL_SCRIPT = r"""printf '\033[?25l'
i=0
while :; do ls /usr/bin; done | while read -r name; do
  i=$((i + 1))
  printf '%6d  %s  %s\n' "$i" "$(date +%H:%M:%S.%N | cut -c1-11)" "$name"
  sleep 0.05
done
"""
STILL_SCRIPT = r"""printf '\033[?25l'
echo '$ ls -go /usr/bin | head -n 24'
ls -go /usr/bin | head -n 24 | cut -c1-60
exec sleep infinity
"""
FLOATING_SCRIPT = r"""printf '\033[?25l'
cat <<'TEXT'
 wlcap demo

 this window floats:
 sway moves and resizes it
 left: a line every 50 ms
 right: a listing, still
 the pointer: a virtual one
TEXT
while :; do printf '\r %s' "$(date +%H:%M:%S.%N | cut -c1-10)"; sleep 0.1; done
"""

Rect = tuple[int, int, int, int]  # x, y, width, height in layout (= output) pixels


def as_sway_user(argv: list[str]) -> list[str]:
    """sway runs as an unprivileged user when we are root (compositor.py): its clients run as that user too."""
    if os.geteuid() != 0:
        return argv
    return ["setpriv", f"--reuid={UNPRIVILEGED_UID}", f"--regid={UNPRIVILEGED_UID}", "--clear-groups", *argv]


def floating_keyframes(width: int, height: int) -> list[Rect]:
    """Where the floating window goes, in turn: in the left half, below the top of the shell's text,
    never over the still terminal on the right."""
    fractions = [(0.04, 0.50, 0.30, 0.30), (0.16, 0.58, 0.32, 0.34), (0.05, 0.64, 0.42, 0.28),
                 (0.10, 0.52, 0.26, 0.42)]
    return [(round(x * width), round(y * height), round(w * width), round(h * height)) for x, y, w, h in fractions]


def pointer_at(t: float, width: int, height: int) -> tuple[int, int]:
    """The pointer's path, a Lissajous figure over the left half."""
    return (round(width * (0.25 + 0.20 * math.sin(2 * math.pi * t / 2.1))),
            round(height * (0.62 + 0.28 * math.sin(2 * math.pi * t / 1.3))))


def _lerp(a: Rect, b: Rect, f: float) -> Rect:
    x, y, w, h = (round(p + (q - p) * f) for p, q in zip(a, b, strict=True))
    return x, y, w, h


class DemoDesktop:
    """sway headless showing the desktop above; `start_motion` sets the floating window and the
    pointer going, `stop` ends everything it started."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.font_size = max(6, round(height / 60))  # 12 pt (16 px) at 720 lines
        config = SWAY_DESKTOP.format(font_size=self.font_size, floating=FLOATING_APP_ID)
        self.sway = SwayHeadless(width, height, BACKGROUND, config)
        self._clients: list[subprocess.Popen[bytes]] = []
        self._pointer: subprocess.Popen[str] | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.floating_moves = 0
        self.pointer_moves = 0
        try:
            self._open_terminals()
            self._open_pointer()
        except BaseException:
            self.stop()
            raise

    # -- clients ---------------------------------------------------------------------------------

    @property
    def client_env(self) -> dict[str, str]:
        """What a client of the session sees: sway's user, runtime dir and home (nothing of ours)."""
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.sway.dir / "home"), "LANG": "C.UTF-8",
                "XDG_RUNTIME_DIR": str(self.sway.runtime_dir), "WAYLAND_DISPLAY": self.sway.socket_name}

    def _foot(self, app_id: str, title: str, script: str, *options: str) -> None:
        argv = ["foot", "--app-id", app_id, "--title", title, "-o", f"font=monospace:size={self.font_size}",
                *(item for option in options for item in ("-o", option)), "sh", "-c", script]
        with open(self.sway.dir / f"{app_id}.log", "wb") as log:
            self._clients.append(subprocess.Popen(as_sway_user(argv), env=self.client_env, cwd="/",
                                                  stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        self._wait_for_window(app_id)

    def _open_terminals(self) -> None:
        self._foot(SHELL_APP_ID, "sh: a line every 50 ms", SHELL_SCRIPT)
        self._foot(STILL_APP_ID, "ls -go /usr/bin", STILL_SCRIPT)
        self._foot(FLOATING_APP_ID, "floating: moved and resized over sway IPC", FLOATING_SCRIPT,
                   f"colors.background={FLOATING_BACKGROUND}", f"colors.foreground={FLOATING_FOREGROUND}")
        self.place_floating(floating_keyframes(self.width, self.height)[0])

    def _open_pointer(self) -> None:
        self._pointer = subprocess.Popen(as_sway_user(client_command("virtualpointer")), env=self.client_env,
                                         cwd="/", stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.move_pointer(*pointer_at(0.0, self.width, self.height))

    def _wait_for_window(self, app_id: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while app_id not in self.windows():
            if any(client.poll() is not None for client in self._clients):
                logs = {path.name: path.read_text(errors="replace")[-1000:] for path in self.sway.dir.glob("*.log")}
                raise RuntimeError(f"a demo client exited: {logs}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{app_id} did not open a window: {self.sway.log.read_text()[-2000:]}")
            time.sleep(0.05)

    # -- what sway says --------------------------------------------------------------------------

    def windows(self) -> dict[str, dict[str, Rect]]:
        """Each demo window by app id: `frame` (with its title bar and border) and `content` (what
        the client draws), in layout pixels, as sway's tree has them."""
        found: dict[str, dict[str, Rect]] = {}

        def walk(node: dict[str, Any]) -> None:
            if node.get("app_id") in APP_IDS and node.get("pid"):
                r, w = node["rect"], node["window_rect"]
                found[node["app_id"]] = {"frame": (r["x"], r["y"], r["width"], r["height"]),
                                         "content": (r["x"] + w["x"], r["y"] + w["y"], w["width"], w["height"])}
            for child in node.get("nodes", []) + node.get("floating_nodes", []):
                walk(child)

        tree = self.sway.swaymsg("-t", "get_tree")
        assert isinstance(tree, dict)
        walk(tree)
        return found

    # -- motion ----------------------------------------------------------------------------------

    def place_floating(self, rect: Rect) -> None:
        x, y, w, h = rect
        self.sway.swaymsg(f'[app_id="{FLOATING_APP_ID}"]', "resize", "set", str(w), str(h), ",",
                          "move", "absolute", "position", str(x), str(y))

    def move_pointer(self, x: int, y: int) -> None:
        assert self._pointer is not None and self._pointer.stdin is not None and self._pointer.stdout is not None
        self._pointer.stdin.write(f"move {x} {y}\n")
        self._pointer.stdin.flush()
        reply = self._pointer.stdout.readline()
        if not reply.startswith("moved"):
            raise RuntimeError(f"the virtual pointer did not move: {reply!r}")

    def start_motion(self, cycle: float = 3.0) -> None:
        """The floating window goes round its keyframes once every `cycle` seconds, 10 steps a
        second; the pointer moves 25 times a second."""
        keyframes = floating_keyframes(self.width, self.height)
        begin = time.monotonic()

        def floating() -> None:
            while not self._stop.wait(0.1):
                phase = ((time.monotonic() - begin) / cycle % 1.0) * len(keyframes)
                index = int(phase)
                self.place_floating(_lerp(keyframes[index], keyframes[(index + 1) % len(keyframes)], phase - index))
                self.floating_moves += 1

        def pointer() -> None:
            while not self._stop.wait(0.04):
                self.move_pointer(*pointer_at(time.monotonic() - begin, self.width, self.height))
                self.pointer_moves += 1

        self._threads = [threading.Thread(target=floating, name="demo-floating", daemon=True),
                         threading.Thread(target=pointer, name="demo-pointer", daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop_motion(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads = []

    # -- the compositor's own screenshot ---------------------------------------------------------

    def grim(self, path: Path) -> None:
        """grim's screenshot of the output (without the cursor), taken as sway's user: an independent
        capture of the same screen."""
        shot = self.sway.dir / "home" / "grim.png"  # where sway's user may write
        subprocess.run(as_sway_user(["grim", str(shot)]), env=self.client_env, cwd="/", check=True, timeout=20,
                       capture_output=True)
        path.write_bytes(shot.read_bytes())

    def stop(self) -> None:
        self.stop_motion()
        if self._pointer is not None:
            with contextlib.suppress(OSError):
                assert self._pointer.stdin is not None
                self._pointer.stdin.write("quit\n")
                self._pointer.stdin.close()
            try:
                self._pointer.wait(5)
            except subprocess.TimeoutExpired:
                self._pointer.kill()
                self._pointer.wait()
        for client in self._clients:
            if client.poll() is None:
                client.terminate()
                try:
                    client.wait(5)
                except subprocess.TimeoutExpired:
                    client.kill()
                    client.wait()
        self.sway.stop()
