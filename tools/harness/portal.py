"""The chain OBS's own PipeWire screen capture goes through, started as a desktop session starts it:
a private D-Bus session bus, PipeWire, WirePlumber, xdg-desktop-portal-wlr (xdpw) and
xdg-desktop-portal, Debian's packages, each with its log in `dir` (xdpw may be another build of it).

xdpw is told which output to share (`chooser_type=none`, `output_name=`), so no chooser dialog is
needed; xdg-desktop-portal is told to use xdpw for screen casts (`portals.conf`, and
XDG_CURRENT_DESKTOP=sway for versions before 1.17).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

LIBEXEC = Path("/usr/libexec")
PORTAL = "org.freedesktop.portal.Desktop"
WLR_BACKEND = "org.freedesktop.impl.portal.desktop.wlr"


class PortalUnavailable(RuntimeError):
    """A part of the chain is not installed, or did not start."""


def missing_parts() -> list[str]:
    """What this machine lacks to run the chain (empty: all there)."""
    wanted = {"dbus-daemon": shutil.which("dbus-daemon"), "pipewire": shutil.which("pipewire"),
              "wireplumber": shutil.which("wireplumber"), "dbus-send": shutil.which("dbus-send"),
              "xdg-desktop-portal": (LIBEXEC / "xdg-desktop-portal").exists() or None,
              "xdg-desktop-portal-wlr": (LIBEXEC / "xdg-desktop-portal-wlr").exists() or None}
    return [name for name, found in wanted.items() if not found]


class PortalChain:
    """Started against the compositor `compositor_env` names, sharing the output `output_name`."""

    def __init__(self, compositor_env: dict[str, str], output_name: str, max_fps: int,
                 xdpw: Path = LIBEXEC / "xdg-desktop-portal-wlr") -> None:
        missing = missing_parts()
        if missing:
            raise PortalUnavailable("not installed: " + ", ".join(missing))
        if not xdpw.is_file():
            raise PortalUnavailable(f"no xdg-desktop-portal-wlr at {xdpw}")
        self.dir = Path(tempfile.mkdtemp(prefix="wlcap-portal-"))
        config_home = self.dir / "config"
        (config_home / "xdg-desktop-portal-wlr").mkdir(parents=True)
        (config_home / "xdg-desktop-portal-wlr" / "config").write_text(
            f"[screencast]\nchooser_type=none\noutput_name={output_name}\nmax_fps={max_fps}\n")
        (config_home / "xdg-desktop-portal").mkdir()
        (config_home / "xdg-desktop-portal" / "portals.conf").write_text(
            "[preferred]\ndefault=wlr\norg.freedesktop.impl.portal.ScreenCast=wlr\n")
        self.env = dict(compositor_env, XDG_CONFIG_HOME=str(config_home), XDG_CURRENT_DESKTOP="sway",
                        XDG_SESSION_TYPE="wayland")
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self.processes: list[subprocess.Popen[bytes]] = []
        try:
            bus = self._start("dbus-daemon", ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                              stdout=subprocess.PIPE)
            assert bus.stdout is not None
            self.env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().decode().strip()
            self._start("pipewire", ["pipewire"])
            self._wait(lambda: (Path(self.env["XDG_RUNTIME_DIR"]) / "pipewire-0").exists(), "pipewire's socket")
            self._start("wireplumber", ["wireplumber"])
            self._start("xdpw", [str(xdpw), "-l", "DEBUG", "-r"])
            self._wait(lambda: WLR_BACKEND in self.bus_names(), "xdg-desktop-portal-wlr on the bus")
            self._start("xdg-desktop-portal", [str(LIBEXEC / "xdg-desktop-portal"), "-r"])
            self._wait(lambda: PORTAL in self.bus_names(), "xdg-desktop-portal on the bus")
        except BaseException:
            self.stop()
            raise

    def _start(self, name: str, command: list[str], stdout: int | None = None) -> subprocess.Popen[bytes]:
        log = open(self.dir / f"{name}.log", "wb")  # noqa: SIM115 - the process keeps it
        process = subprocess.Popen(command, env=self.env, stdout=stdout or log, stderr=log, cwd="/")
        self.processes.append(process)
        return process

    def _wait(self, ready: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for process in self.processes:
                if process.poll() is not None:
                    raise PortalUnavailable(f"{process.args[0]} exited ({process.returncode}) before {what}: "
                                            + self.logs()[-1500:])
            if time.monotonic() > deadline:
                raise PortalUnavailable(f"no {what} within {timeout:.0f} s: " + self.logs()[-1500:])
            time.sleep(0.1)

    def bus_names(self) -> str:
        result = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                                 "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames"],
                                env=self.env, capture_output=True, text=True, timeout=10)
        return result.stdout

    def refusal(self) -> str:
        """Why xdpw refused a screen cast, in its own words, or else every log's tail."""
        log = (self.dir / "xdpw.log").read_text(errors="replace") if (self.dir / "xdpw.log").exists() else ""
        said = [line for line in log.splitlines() if "unable" in line.lower() or "[ERROR]" in line]
        return f"xdg-desktop-portal-wlr: {said[-1].split(' - ', 1)[-1]}" if said else "logs:\n" + self.logs()

    def logs(self) -> str:
        return "".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                       for path in sorted(self.dir.glob("*.log")))

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
