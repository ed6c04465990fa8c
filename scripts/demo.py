"""The headless demo: a small desktop (sway with three terminals, a window that moves and resizes, a
moving pointer), the OBS Studio app with the wlcap source in a scene, a few seconds recorded, OBS
stopped cleanly; writes the recording, a contact sheet of its frames, a screenshot of OBS's window and
grim's screenshot of the same desktop, and prints a summary and the recording's path.

    sway (headless, pixman) --wlr-screencopy--> wlcap --> OBS 29 (Xvfb, llvmpipe) --> x264 --> .mkv

OBS is driven through its bundled obs-websocket. The script obs_plugin/wlcap.py is loaded from the
scene collection, exactly as Tools -> Scripts would load it; beside it, a small script of the demo's
(tools/harness/obs_scripts/source_status.py) reads the source's status line, which obs-websocket
cannot.

stdout: a summary, then the recording's path on the last line. stderr: the same as JSON (`report`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

from harness.demo_desktop import DemoDesktop  # noqa: E402
from harness.obs_frontend import ObsApp, obs_env  # noqa: E402
from harness.obshost import Xvfb  # noqa: E402

SOURCE_NAME = "wlcap screen"
STATUS_SCRIPT = REPO / "tools" / "harness" / "obs_scripts" / "source_status.py"
SHEET_COLUMNS, SHEET_ROWS = 3, 2  # the contact sheet: 6 frames, each at half size


def probe(recording: Path) -> dict[str, Any]:
    """What ffprobe says of the recording's video stream (and the file's duration)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                          "stream=codec_name,width,height,nb_read_frames,avg_frame_rate:format=duration",
                          "-of", "json", str(recording)], check=True, capture_output=True, text=True).stdout
    parsed = json.loads(out)
    video: dict[str, Any] = parsed["streams"][0]
    video["duration"] = float(parsed["format"]["duration"])
    return video


def contact_sheet(recording: Path, frames: int, path: Path) -> list[int]:
    """SHEET_COLUMNS x SHEET_ROWS evenly spaced frames of the recording at half size, each labelled with
    its time (bottom right, where the still terminal's listing has ended), in one PNG; returns the frame
    numbers."""
    count = SHEET_COLUMNS * SHEET_ROWS
    picked = [round(i * (frames - 1) / (count - 1)) for i in range(count)]
    select = "+".join(f"eq(n\\,{n})" for n in picked)
    label = ("drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:text='%{pts\\:hms}':"
             "x=w-tw-8:y=h-th-8:fontsize=18:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(recording), "-vf",
                    f"select='{select}',scale=iw/2:ih/2,{label},tile={SHEET_COLUMNS}x{SHEET_ROWS}",
                    "-frames:v", "1", "-fps_mode", "passthrough", str(path)], check=True, capture_output=True)
    return picked


def x11_screenshot(display: str, path: Path) -> None:
    """The whole X screen OBS runs on (ImageMagick's import has no X here), without X's own pointer,
    which Xvfb parks in the middle of the screen: the pointer in the picture is sway's, in OBS's preview."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "x11grab", "-draw_mouse", "0", "-i", display,
                    "-frames:v", "1", str(path)], check=True, capture_output=True, timeout=30)


def read_status(path: Path) -> dict[str, str]:
    """What the source's Properties dialog says: "status" (its first line) and "details" (how)."""
    try:
        found = json.loads(path.read_text()).get(SOURCE_NAME) or {}
    except (OSError, ValueError):
        found = {}
    return {"status": str(found.get("status", "")), "details": str(found.get("details", ""))}


def wait_for_status(path: Path, obs: ObsApp, timeout: float = 30) -> None:
    """Until the source says it is capturing (an fps figure is in its status)."""
    deadline = time.monotonic() + timeout
    while True:
        status = read_status(path)["status"]
        if "fps" in status and "capturing" in status:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: the wlcap source did not start capturing ({status!r}); OBS log:\n"
                             f"{obs.log()[-3000:]}")
        time.sleep(0.1)


def backend_of(status: str) -> str:
    """The backend a "Status: capturing OUTPUT: BACKEND, FPS fps" line names."""
    after = status.split(": ", 2)[-1] if status.count(": ") >= 2 else status
    return after.split(",", 1)[0]


def dropped_frames(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """What obs-websocket's GetStats counted while recording: frames OBS rendered, and those it
    missed (rendering lagged) or skipped (the encoder fell behind)."""
    def delta(key: str) -> int:
        return int(after[key]) - int(before[key])

    return {"rendered": delta("renderTotalFrames"), "render_lagged": delta("renderSkippedFrames"),
            "output": delta("outputTotalFrames"), "output_skipped": delta("outputSkippedFrames")}


def summary(report: dict[str, Any], width: int, height: int) -> list[str]:
    """What the demo did, for a person: the recording in a line, then where everything is."""
    video, counts, files = report["video"], report["frames"], report["files"]
    rate = video.get("avg_frame_rate", "0/0")
    fps = float(Fraction(rate)) if rate != "0/0" else 0.0
    dropped = counts["render_lagged"] + counts["output_skipped"]
    details = report["source_details"]
    return [
        f"wlcap demo: sway {width}x{height} (three foot terminals, a window moving and resizing, a moving "
        f"pointer) -> wlcap -> OBS -> {video['codec_name']} .mkv",
        f"recorded {video['duration']:.1f} s: {video['nb_read_frames']} frames at {fps:g} fps, {dropped} dropped "
        f"({counts['render_lagged']} of {counts['rendered']} lagged rendering, {counts['output_skipped']} of "
        f"{counts['output']} skipped encoding); backend {report['backend']}",
        f"  source status  {report['source_status'].removeprefix('Status: ')}",
        *([f"                 {details}"] if details else []),
        f"  OBS            exit status {report['obs_exit_status']} ({report['obs_stopped_by']}), "
        f"{report['obs_leaks']} memory leaks",
        f"  contact sheet  {files['contact_sheet']} (frames "
        f"{', '.join(map(str, report['contact_sheet_frames']))})",
        f"  OBS window     {files['obs_screenshot']}",
        f"  grim           {files['grim_screenshot']} (the compositor's own screenshot, for comparison)",
        f"  OBS log        {files['obs_log']}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "out" / "demo")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    paths = {"recording": out / "demo.mkv", "contact_sheet": out / "contact-sheet.png",
             "obs_screenshot": out / "obs-window.png", "grim_screenshot": out / "grim.png",
             "obs_log": out / "obs.log"}

    desktop = DemoDesktop(args.width, args.height)
    scratch = tempfile.TemporaryDirectory(prefix="wlcap-demo-")
    status_file = Path(scratch.name) / "status.json"
    xvfb = obs = None
    try:
        xvfb = Xvfb()
        env = dict(obs_env(desktop.sway.env, xvfb.display), WLCAP_STATUS_FILE=str(status_file))
        obs = ObsApp(env, REPO / "obs_plugin" / "wlcap.py", out, args.width, args.height,
                     extra_scripts=[STATUS_SCRIPT])
        kinds = obs.request("GetInputKindList")["inputKinds"]
        if "wlcap_capture" not in kinds:
            raise SystemExit(f"demo: OBS did not register wlcap_capture; OBS log:\n{obs.log()[-3000:]}")
        obs.request("CreateInput", sceneName="Scene", inputName=SOURCE_NAME, inputKind="wlcap_capture",
                    inputSettings={"output": "HEADLESS-1"}, sceneItemEnabled=True)
        desktop.start_motion()
        wait_for_status(status_file, obs)
        time.sleep(0.5)  # OBS's preview has drawn a few frames

        stats_before = obs.request("GetStats")
        obs.request("StartRecord")
        started = time.monotonic()
        time.sleep(max(args.seconds - 1.0, 0.5))
        # Near the end, while recording: OBS's window (the source listed, its preview) and grim's picture
        # of the same desktop, an independent capture.
        x11_screenshot(xvfb.display, paths["obs_screenshot"])
        desktop.grim(paths["grim_screenshot"])
        time.sleep(max(started + args.seconds - time.monotonic(), 0))
        status = read_status(status_file)
        stats_after = obs.request("GetStats")
        recorded = Path(obs.request("StopRecord")["outputPath"])
        deadline = time.monotonic() + 20  # the muxer finishes the file a moment after StopRecord
        while obs.request("GetRecordStatus")["outputActive"] and time.monotonic() < deadline:
            time.sleep(0.1)
        desktop.stop_motion()
        windows = desktop.windows()
        settings = obs.request("GetInputSettings", inputName=SOURCE_NAME)
        exit_status = obs.stop()
        log = obs.log()
        paths["obs_log"].write_text(log)
        leaks = [line for line in log.splitlines() if "Number of memory leaks" in line]
        recorded.replace(paths["recording"])
        video = probe(paths["recording"])
        sheet_frames = contact_sheet(paths["recording"], int(video["nb_read_frames"]), paths["contact_sheet"])
        report = {"recording": str(paths["recording"]), "video": video, "obs_exit_status": exit_status,
                  "obs_stopped_by": obs.stop_method,
                  "obs_leaks": leaks[-1].split(":")[-1].strip() if leaks else "unknown",
                  "source_settings": settings.get("inputSettings"), "source_status": status["status"],
                  "source_details": status["details"], "backend": backend_of(status["status"]),
                  "frames": dropped_frames(stats_before, stats_after),
                  "files": {name: str(path) for name, path in paths.items()}, "contact_sheet_frames": sheet_frames,
                  "windows": windows, "floating_moves": desktop.floating_moves,
                  "pointer_moves": desktop.pointer_moves}
        print(json.dumps(report, indent=2), file=sys.stderr)
        print("\n".join(summary(report, args.width, args.height)))
        print(paths["recording"])
        return 0
    finally:
        if obs is not None and obs.process.poll() is None:
            obs.stop()
        if xvfb is not None:
            xvfb.stop()
        desktop.stop()
        scratch.cleanup()


if __name__ == "__main__":
    sys.exit(main())
