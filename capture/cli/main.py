"""The `wlcap` command line: outputs, windows, screenshot, stream, bench, soak, obs (install, uninstall).

Every failure a user can cause or meet (no compositor, no screencopy, unknown output, bad region,
a failed frame) prints one line on stderr and exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from capture.cli import bench, obs_install, soak
from capture.errors import WlcapError
from capture.image import encode_png
from capture.options import Backend, CaptureOptions, CaptureProtocol, CursorMode
from capture.region import Region
from capture.screenshot import take_screenshot
from capture.stream import run_stream
from capture.wayland.connection import Connection
from capture.wayland.toplevels import ToplevelList

EXIT_FAILURE = 2


def _options(args: argparse.Namespace) -> CaptureOptions:
    return CaptureOptions(
        output=args.output,
        region=Region.parse(args.region) if getattr(args, "region", None) else None,
        cursor=CursorMode.PAINTED if getattr(args, "cursor", False) else CursorMode.HIDDEN,
        backend=Backend(args.backend),
        with_damage=getattr(args, "damage", False),
        protocol=CaptureProtocol(args.protocol),
        window=getattr(args, "window", None),
    )


def cmd_outputs(args: argparse.Namespace) -> int:
    with Connection() as connection:
        infos = [output.info() for output in connection.outputs.all()]
    if args.json:
        print(json.dumps([info.as_dict() for info in infos], indent=2))
        return 0
    for info in infos:
        w, h = info.transformed_size
        print(f"{info.name}: {w}x{h} @ {info.refresh_mhz / 1000:g} Hz at {info.x},{info.y} "
              f"scale {info.scale} transform {info.transform_name}  {info.description}")
    return 0


def cmd_windows(args: argparse.Namespace) -> int:
    with Connection() as connection:
        toplevels = ToplevelList(connection)
        infos = [toplevel.info() for toplevel in toplevels.all()]
        toplevels.destroy()
    if args.json:
        print(json.dumps([info.as_dict() for info in infos], indent=2))
        return 0
    for info in infos:
        print(f"{info.app_id or '-'}\t{info.title}\t{info.identifier}")
    return 0


def cmd_screenshot(args: argparse.Namespace) -> int:
    with Connection() as connection:
        image = take_screenshot(connection, _options(args))
    path = Path(args.o or time.strftime("wlcap-%Y%m%d-%H%M%S.png"))
    path.write_bytes(encode_png(image))
    print(path)
    return 0


def cmd_stream(args: argparse.Namespace) -> int:
    options = _options(args)
    wall0, cpu0 = time.monotonic(), time.process_time()
    run = run_stream(options, args.frames, timeout=args.timeout)
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    stats, frames = run.stats, max(run.frames, 1)
    result = {
        "frames": run.frames,
        "seconds": round(wall, 4),
        "fps": round(run.frames / wall, 2) if wall else 0.0,
        "cpu_ms_per_frame": round(cpu * 1000 / frames, 4),
        "backend": stats.backend,
        "backend_reason": stats.backend_reason,
        "buffers_allocated": stats.buffers_allocated,
        "reallocations": stats.reallocations,
        "frames_captured": stats.frames_captured,
        "frames_dropped": stats.frames_dropped,
        "frames_failed": stats.frames_failed,
        "protocol": stats.protocol,
        "protocol_reason": stats.protocol_reason,
        "stopped_early": run.stopped_early,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['frames']} frames in {result['seconds']} s ({result['fps']} fps), "
              f"{result['cpu_ms_per_frame']} ms CPU/frame, backend {result['backend']}, "
              f"{result['buffers_allocated']} buffers allocated, {result['reallocations']} reallocations, "
              f"protocol {result['protocol']} ({result['protocol_reason']})")
    if run.stopped_early:
        print(f"wlcap: stopped after {run.frames} of {args.frames} frames: {run.stopped_early}", file=sys.stderr)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    options = _options(args)
    result = bench.compare(options, args.frames, args.baseline_frames or args.frames, touch=not args.no_touch,
                           grim_frames=args.grim_frames)
    print(json.dumps(result, indent=2))
    return 0


def cmd_soak(args: argparse.Namespace) -> int:
    if args.every < 1 or args.warmup < 0:
        print("wlcap: --every must be at least 1 and --warmup at least 0", file=sys.stderr)
        return 2

    def report(s: soak.Sample) -> None:
        if not args.json:
            print(f"{s.frames:>9} frames {s.seconds:>9.1f} s  rss {s.rss_kb} KB  fds {s.fds}  threads {s.threads}  "
                  f"objects {s.objects}", flush=True)

    result = soak.run(_options(args), args.frames, args.every, args.warmup, args.timeout, report)
    growth = result.growth()
    if args.json:
        print(json.dumps(result.as_json()))
    else:
        print(f"growth a frame: rss {growth['rss_bytes_per_frame']:.2f} bytes, fds {growth['fds_per_frame']:.2g}, "
              f"threads {growth['threads_per_frame']:.2g}, objects {growth['objects_per_frame']:.3g}")
    if result.stopped_early:
        print(f"wlcap: soak stopped: {result.stopped_early}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wlcap", description="Wayland screen capture with pooled buffers")
    sub = parser.add_subparsers(dest="command", required=True)

    def capture_args(p: argparse.ArgumentParser, region: bool = True, window: bool = True) -> None:
        p.add_argument("--output", help="output name (default: the first output)")
        if window:
            p.add_argument("--window", help="capture a window (ext only): its app id, title or identifier "
                                            "(see `wlcap windows`)")
        p.add_argument("--backend", choices=[b.value for b in Backend], default="auto",
                       help="buffers: auto (streams: DMA-BUF where offered, else shared memory; screenshots: "
                            "shared memory), dmabuf or shm")
        p.add_argument("--protocol", choices=[c.value for c in CaptureProtocol], default="auto",
                       help="ext-image-copy-capture-v1 or wlr-screencopy (auto: ext where offered)")
        p.add_argument("--cursor", action="store_true", help="include the cursor")
        if region:
            p.add_argument("--region", help='"X,Y WxH" in output-local pixels')

    p = sub.add_parser("outputs", help="list outputs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_outputs)

    p = sub.add_parser("windows", help="list windows (ext-foreign-toplevel-list-v1): app id, title, identifier")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_windows)

    p = sub.add_parser("screenshot", help="capture one frame to a PNG file")
    p.add_argument("-o", metavar="FILE.png", help="where to write (default: wlcap-DATE.png)")
    capture_args(p)
    p.set_defaults(func=cmd_screenshot)

    p = sub.add_parser("stream", help="run the pooled capture loop and report figures")
    p.add_argument("--frames", type=int, default=180)
    p.add_argument("--json", action="store_true")
    p.add_argument("--damage", action="store_true",
                   help="copy_with_damage: frames only when the screen changes")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds without a new frame after which the stream ends: cleanly if the compositor "
                        "still answers (an unchanged screen), in error if it does not (stuck)")
    capture_args(p)
    p.set_defaults(func=cmd_stream)

    p = sub.add_parser("bench", help="pooled stream against per-frame set-up, in one run")
    p.add_argument("--frames", type=int, default=180)
    p.add_argument("--baseline-frames", type=int, default=0,
                   help="frames for the per-frame loop (default: --frames)")
    p.add_argument("--grim-frames", type=int, default=0,
                   help="also time this many per-frame `grim -t ppm` captures, for reference")
    p.add_argument("--no-touch", action="store_true", help="the consumer does not read the frames' pages")
    capture_args(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("soak", help="a long stream with memory, fds, threads and Python objects sampled "
                                    "along the way, and their growth a frame")
    p.add_argument("--frames", type=int, default=100_000, help="frames after the warm-up")
    p.add_argument("--every", type=int, default=1000, help="frames between samples")
    p.add_argument("--warmup", type=int, default=2000, help="frames before the first sample (pools, caches)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds without a frame after which it stops")
    p.add_argument("--json", action="store_true")
    capture_args(p)
    p.set_defaults(func=cmd_soak)

    obs_install.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "frames", 1) < 1:
        print("wlcap: --frames must be at least 1", file=sys.stderr)
        return EXIT_FAILURE
    try:
        return int(args.func(args))
    except WlcapError as exc:
        print(f"wlcap: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
