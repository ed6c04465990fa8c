"""The headless demo: a compositor showing moving content, the OBS Studio app with the wlcap source in
a scene, a few seconds recorded, OBS stopped cleanly; prints the recording's path.

    sway (headless, pixman) --wlr-screencopy--> wlcap --> OBS 29 (Xvfb, llvmpipe) --> x264 --> .mkv

OBS is driven through its bundled obs-websocket. The script obs_plugin/wlcap.py is loaded from the
scene collection, exactly as Tools -> Scripts would load it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

from harness.compositor import DEMO_COLOURS, ColourCycle, SwayHeadless  # noqa: E402
from harness.obs_frontend import ObsApp, obs_env  # noqa: E402
from harness.obshost import Xvfb  # noqa: E402


def probe(recording: Path) -> dict[str, object]:
    """What ffprobe says of the recording's video stream."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                          "stream=codec_name,width,height,nb_read_frames", "-of", "json", str(recording)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["streams"][0]  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "out" / "demo")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)

    sway = SwayHeadless(args.width, args.height)
    xvfb = Xvfb()
    animator = ColourCycle(lambda colour: sway.show_colour("HEADLESS-1", colour), DEMO_COLOURS, 0.25)  # moving content
    obs = None
    try:
        obs = ObsApp(obs_env(sway.env, xvfb.display), REPO / "obs_plugin" / "wlcap.py", args.out,
                     args.width, args.height)
        kinds = obs.request("GetInputKindList")["inputKinds"]
        if "wlcap_capture" not in kinds:
            raise SystemExit(f"demo: OBS did not register wlcap_capture; OBS log:\n{obs.log()[-3000:]}")
        obs.request("CreateInput", sceneName="Scene", inputName="Wayland", inputKind="wlcap_capture",
                    inputSettings={"output": "HEADLESS-1"}, sceneItemEnabled=True)
        animator.start()
        time.sleep(1.5)  # the first frames arrive
        obs.request("StartRecord")
        time.sleep(args.seconds)
        recording = Path(obs.request("StopRecord")["outputPath"])
        deadline = time.monotonic() + 20  # the muxer finishes the file a moment after StopRecord
        while obs.request("GetRecordStatus")["outputActive"] and time.monotonic() < deadline:
            time.sleep(0.1)
        status = obs.request("GetInputSettings", inputName="Wayland")
        exit_status = obs.stop()
        log = obs.log()
        (args.out / "obs.log").write_text(log)
        leaks = [line for line in log.splitlines() if "Number of memory leaks" in line]
        print(json.dumps({"recording": str(recording), "video": probe(recording), "obs_exit_status": exit_status,
                          "obs_stopped_by": obs.stop_method,
                          "obs_leaks": leaks[-1].split(":")[-1].strip() if leaks else "unknown",
                          "source_settings": status.get("inputSettings")}, indent=2), file=sys.stderr)
        print(recording)
        return 0
    finally:
        animator.stop()
        if obs is not None and obs.process.poll() is None:
            obs.stop()
        xvfb.stop()
        sway.stop()


if __name__ == "__main__":
    sys.exit(main())
