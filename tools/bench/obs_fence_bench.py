"""Render-thread cost of explicit sync: the wlcap OBS source's video_render time per frame with EGL
native fences (acquire + release per new frame) against the same source with WLCAP_EXPLICIT_SYNC=0,
measured in the same run, alternating, over real DMA-BUFs.

Runs inside the guest tier, where sway 1.12 fills DMA-BUFs and OBS 32 imports them:
    WLCAP_GUEST_RUN=fence-bench tests/vm/run-wlcap-tests.sh SHARE
prints one JSON object (also written to SHARE/fence-bench.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from harness.compositor import ColourCycle  # noqa: E402
from harness.obs_guest import COLOUR, set_background, start_obs, wait_for_status  # noqa: E402
from harness.obshost import build_obs_host  # noqa: E402

OTHER_COLOUR = (30, 170, 90)


def measure(binary: Path, explicit: bool, seconds: float) -> dict[str, float | int | str]:
    env = {} if explicit else {"WLCAP_EXPLICIT_SYNC": "0"}
    host = start_obs(binary, **env)
    changer = ColourCycle(set_background, [OTHER_COLOUR, COLOUR], 0.5)  # new pixels, as in a stream
    try:
        status = wait_for_status(host, "explicit sync" if explicit else "implicit sync", timeout=120)
        changer.start()
        time.sleep(5)  # warm-up: every pooled buffer imported once
        before = host.ok("stats", "cap")
        time.sleep(seconds)
        after = host.ok("stats", "cap")
    finally:
        changer.stop()
        host.quit()
        host.cleanup()

    def delta(name: str) -> int:
        return int(after[name] - before[name])

    shown = delta("frames_shown")
    return {
        "status": status,
        "renders": delta("renders"),
        "frames_shown": shown,
        "render_us_per_render": round(delta("render_ns") / max(1, delta("renders")) / 1000, 1),
        "render_us_per_new_frame": round(delta("render_ns") / max(1, shown) / 1000, 1),
        "acquire_waits": delta("acquire_waits"),
        "acquire_signalled": delta("acquire_signalled"),
        "release_fences": delta("release_fences"),
        "releases_implicit": delta("releases_implicit"),
        "obs_average_frame_time_us": round(after["obs_average_frame_time_ns"] / 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured per round")
    parser.add_argument("--rounds", type=int, default=2, help="each round runs both, alternating")
    args = parser.parse_args()
    binary = build_obs_host(Path(tempfile.mkdtemp(prefix="wlcap-fence-bench-")))
    rounds = []
    for index in range(args.rounds):
        order = (True, False) if index % 2 == 0 else (False, True)
        rounds.append({("explicit" if explicit else "implicit"): measure(binary, explicit, args.seconds)
                       for explicit in order})

    def mean(config: str, key: str) -> float:
        return round(sum(float(r[config][key]) for r in rounds) / len(rounds), 1)

    summary = {key: {"explicit": mean("explicit", key), "implicit": mean("implicit", key),
                     "ratio": round(mean("explicit", key) / max(0.1, mean("implicit", key)), 3)}
               for key in ("render_us_per_render", "render_us_per_new_frame", "obs_average_frame_time_us")}
    result = {"seconds_per_round": args.seconds, "rounds": rounds, "summary": summary}
    text = json.dumps(result, indent=2)
    print(text)
    share = os.environ.get("WLCAP_SHARE")
    if share:
        Path(share, "fence-bench.json").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
