"""Drive tools/harness/obs_host/obs_host.c: real libobs + libobs-scripting, headless on Xvfb (X11 EGL,
Mesa llvmpipe), one command a line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "obs_host" / "obs_host.c"
# An OBS script that publishes frames whose descriptions lie about their memory (tools/harness/obs_scripts).
LYING_FRAMES = HERE / "obs_scripts" / "lying_frames.py"


def obs_pythonpath() -> str:
    """sys.path entries OBS's embedded Python needs to import the wlcap this process imports
    (ImportError when wlcap_obs was not built)."""
    import cffi
    import pywayland
    import wlcap_obs

    import capture

    paths = [Path(m.__file__).resolve().parent.parent for m in (wlcap_obs, capture, pywayland, cffi)]
    return os.pathsep.join(dict.fromkeys(str(p) for p in paths))


def obspython_path() -> str:
    """A PYTHONPATH with OBS's obspython module: OBS 32 finds it relative to its executable, and the
    OBS host is not /usr/bin/obs (OBS 29 finds it either way)."""
    return os.pathsep.join(str(p.parent) for p in Path("/usr/lib").glob("*/obs-scripting/obspython.py"))


def build_obs_host(out_dir: Path) -> Path:
    binary = out_dir / "obs_host"
    flags = subprocess.check_output(["pkg-config", "--cflags", "--libs", "libobs"], text=True).split()
    includedir = subprocess.check_output(["pkg-config", "--variable=includedir", "libobs"], text=True).strip()
    flags.append(f"-I{includedir}/obs")  # OBS 32's libobs.pc names only the parent folder
    # -rdynamic: the probes' wrappers of libobs functions must be what modules and libobs call.
    sources = [str(SOURCE.parent / name) for name in ("obs_host.c", "probes.c", "modules.c")]
    subprocess.run(["gcc", "-O1", "-Wall", "-Werror", "-rdynamic", "-o", str(binary), *sources, *flags,
                    "-lobs-scripting", "-lX11", "-lwayland-client", "-lpthread", "-ldl"], check=True)
    return binary


class Xvfb:
    def __init__(self) -> None:
        for number in range(90, 140):
            if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
                break
        self.display = f":{number}"
        self.process = subprocess.Popen(["Xvfb", self.display, "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Xvfb did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class ObsHost:
    """One headless OBS process. `log` is its OBS log."""

    def __init__(self, binary: Path, env: dict[str, str], width: int, height: int) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="wlcap-obs-"))
        self.log_path = self.dir / "obs.log"
        self.width, self.height = width, height
        self.process = subprocess.Popen([str(binary), str(self.log_path), str(width), str(height)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                                        cwd=str(self.dir))
        ready = self._read(timeout=60)
        assert ready.get("ready"), ready
        self.leaks: int | None = None

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        import select

        readable, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not readable:
            raise TimeoutError(f"OBS host did not answer within {timeout} s; log:\n{self.log()[-3000:]}")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"OBS host exited ({self.process.wait()}); log:\n{self.log()[-3000:]}")
        return json.loads(line)  # type: ignore[no-any-return]

    def command(self, *words: str, timeout: float = 60) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(" ".join(words) + "\n")
        self.process.stdin.flush()
        return self._read(timeout)

    def ok(self, *words: str, timeout: float = 60) -> dict[str, Any]:
        answer = self.command(*words, timeout=timeout)
        assert answer.get("ok"), (words, answer, self.log()[-3000:])
        return answer

    def grab(self, frames: int = 3) -> bytes:
        path = self.dir / "frame.bgra"
        self.ok("grab", str(path), str(frames))
        return path.read_bytes()

    def peek(self) -> tuple[bytes, int]:
        """The newest output frame and how many frames OBS has output so far, without waiting."""
        path = self.dir / "peek.bgra"
        answer = self.ok("peek", str(path))
        return path.read_bytes(), int(answer["frames_seen"])

    def load_module(self, name: str) -> dict[str, Any]:
        """Load the installed OBS module `name` (e.g. linux-pipewire) as the OBS app does at start-up."""
        prefix = subprocess.check_output(["pkg-config", "--variable=prefix", "libobs"], text=True).strip()
        # Debian puts modules under the multiarch folder, whatever libobs.pc's libdir says.
        found = sorted(Path(prefix).glob(f"lib/*/obs-plugins/{name}.so")) + \
            sorted(Path(prefix).glob(f"lib/obs-plugins/{name}.so"))
        if not found:
            return {"ok": False, "error": f"no OBS module {name} under {prefix}/lib"}
        return self.command("module", str(found[0]), f"{prefix}/share/obs/obs-plugins/{name}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def quit(self, timeout: float = 60) -> int:
        answer = self.command("quit", timeout=timeout)
        self.process.wait(timeout)
        self.leaks = int(answer["leaks"])
        return self.leaks

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def launch_wayland_obs(binary: Path, env: dict[str, str], width: int, height: int, repo: Path,
                       **extra_env: str) -> ObsHost:
    """OBS on Wayland EGL against the compositor `env` names (the guest tier has no X server), with
    the wlcap script of the checkout `repo` loaded (finding the wlcap this process imports, built
    and installed) and no source yet."""
    env = dict(env, OBS_HOST_PLATFORM="wayland", WLCAP_PYTHONPATH=obs_pythonpath(), PYTHONPATH=obspython_path(),
               **extra_env)
    host = ObsHost(binary, env, width, height)
    host.ok("script", str(repo / "obs_plugin" / "wlcap.py"))
    return host


def bgra_pixel(frame: bytes, width: int, x: int, y: int) -> tuple[int, int, int]:
    """(R, G, B) at x, y of a BGRA frame."""
    i = (y * width + x) * 4
    return frame[i + 2], frame[i + 1], frame[i]


def worst_difference(frame: bytes, colour: tuple[int, int, int], width: int, height: int) -> int:
    """The largest channel difference from `colour` over a grid of points covering the whole canvas."""
    points = [(x * (width - 1) // 15, y * (height - 1) // 15) for x in range(16) for y in range(16)]
    return max(max(abs(a - b) for a, b in zip(bgra_pixel(frame, width, x, y), colour, strict=True))
               for x, y in points)


def wait_for_colour(host: ObsHost, colour: tuple[int, int, int], tolerance: int, timeout: float = 60) -> int:
    """Until OBS's output is `colour` everywhere (within tolerance) or timeout; the worst difference."""
    deadline = time.monotonic() + timeout
    while True:
        difference = worst_difference(host.grab(2), colour, host.width, host.height)
        if difference <= tolerance or time.monotonic() > deadline:
            return difference
        time.sleep(0.5)


def max_channel_difference(frame: bytes, width: int, image: Any, x0: int = 0, y0: int = 0) -> int:
    """The largest per-channel difference between an RGB image and the frame area it should fill."""
    worst = 0
    for y in range(image.height):
        row = frame[((y0 + y) * width + x0) * 4:((y0 + y) * width + x0 + image.width) * 4]
        expected = image.pixels[y * image.width * 3:(y + 1) * image.width * 3]
        worst = max(worst, max(abs(row[4 * i + 2 - c] - expected[3 * i + c])
                               for i in range(image.width) for c in range(3)))
    return worst


__all__ = ["LYING_FRAMES", "ObsHost", "Xvfb", "bgra_pixel", "build_obs_host", "launch_wayland_obs",
           "max_channel_difference", "wait_for_colour", "worst_difference"]
