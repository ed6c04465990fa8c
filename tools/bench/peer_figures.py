"""The figures of tools/bench/peer_bench.py, from what it recorded: CPU of a set of processes, the
test window's paints and OBS's output pixels (latency, delivered frames), and the tables."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


def descendants(roots: Iterable[int]) -> set[int]:
    """The processes in `roots` and every process below them (dbus-activated portals included)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found = {pid for pid in roots if pid in parents}
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        found |= children
        grew = bool(children)
    return found


def task_cpu_ns(pid: int) -> list[tuple[str, int]]:
    """Each thread of `pid` by name, with its CPU time (ns) from the scheduler's own account
    (/proc/PID/task/TID/schedstat: nanoseconds on a CPU, not 10 ms ticks); empty once the process is gone."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return []
    threads = []
    for task in tasks:
        try:
            threads.append(((task / "comm").read_text().strip(), int((task / "schedstat").read_text().split()[0])))
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended between the listing and the read
    return threads


def cpu_ns(pids: Iterable[int]) -> dict[int, int]:
    """CPU time (ns) of each process, all its threads (processes already gone are left out)."""
    totals = {pid: task_cpu_ns(pid) for pid in pids}
    return {pid: sum(ns for _name, ns in threads) for pid, threads in totals.items() if threads}


def thread_cpu_ns(pid: int) -> dict[str, int]:
    """CPU time (ns) of a process's threads by name, digits dropped (llvmpipe-0 and -1 are llvmpipe-)."""
    totals: dict[str, int] = {}
    for name, ns in task_cpu_ns(pid):
        name = "".join(c for c in name if not c.isdigit())
        totals[name] = totals.get(name, 0) + ns
    return totals


def render_cpu_ns(threads: dict[str, int]) -> int:
    """CPU of OBS's render thread and of llvmpipe's workers, which run the GL work it submits."""
    return sum(ns for name, ns in threads.items() if name.startswith(("libobs: graphic", "llvmpipe")))


def cpu_between(before: dict[int, int], after: dict[int, int]) -> dict[str, int]:
    """CPU spent (ns) between two `cpu_ns` readings by process name; a process that started in
    between counts whole."""
    spent: dict[str, int] = {}
    for pid, value in after.items():
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except (FileNotFoundError, ProcessLookupError):
            name = "?"
        spent[name] = spent.get(name, 0) + value - before.get(pid, 0)
    return spent


def decode_code(bgra: int) -> int | None:
    """The test window's paint code (tools/clients/testwindow.py `animate`) in an output pixel (BGRA
    bytes read as a little-endian number); None if the pixel is not a code (within 3 a channel)."""
    blue, green, red = bgra & 0xFF, (bgra >> 8) & 0xFF, (bgra >> 16) & 0xFF
    nibbles = []
    for value in (red, green, blue):
        nibble = round(value / 17)
        if abs(value - 17 * nibble) > 3:
            return None
        nibbles.append(nibble)
    code = (nibbles[0] << 8) | (nibbles[1] << 4) | nibbles[2]
    return code or None


@dataclass(frozen=True)
class Mark:
    frame_ns: int   # the OBS video frame's timestamp
    output_ns: int  # when the composed frame reached OBS's raw-video outputs
    code: int | None
    blank: bool  # black: nothing drawn there


def read_marks(path: Path) -> list[Mark]:
    marks = []
    for line in path.read_text().splitlines():
        frame_ns, output_ns, bgra = line.split()
        pixel = int(bgra, 16)
        marks.append(Mark(int(frame_ns), int(output_ns), decode_code(pixel), pixel & 0xFFFFFF == 0))
    return marks


def delivered_codes(marks: Sequence[Mark]) -> int:
    """How many times the output showed a paint it had not shown in the frame before."""
    return sum(1 for prev, mark in itertools.pairwise(marks)
               if mark.code is not None and mark.code != prev.code)


def latencies_ms(paints: Sequence[tuple[int, int]], marks: Sequence[Mark], use_output: bool) -> list[float]:
    """For each paint (code, commit ns) that OBS showed, the time to the first output frame showing
    it: by the frame's own timestamp, or (use_output) by when it reached OBS's outputs."""
    result = []
    start = 0
    for code, committed_ns in paints:
        while start < len(marks) and marks[start].output_ns < committed_ns:
            start += 1
        for mark in marks[start:start + 240]:  # codes repeat after 4095 paints; 240 frames is plenty
            if mark.code == code:
                shown = mark.output_ns if use_output else max(mark.frame_ns, committed_ns)
                result.append((shown - committed_ns) / 1e6)
                break
    return result


def percentile(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


ROWS = [
    ("OBS frame time, ms (render thread per frame)", "obs_frame_ms"),
    ("OBS render CPU, ms per frame (render thread and llvmpipe's threads)", "render_cpu_ms_per_frame"),
    ("source's video_render, ms per call", "video_render_ms"),
    ("graphics context held outside the render thread, ms per OBS frame", "other_graphics_ms_per_frame"),
    ("CPU of every process, ms per OBS frame", "cpu_ms_per_obs_frame"),
    ("CPU of every process, ms per new frame delivered", "cpu_ms_per_delivered"),
    ("CPU of every process, ms per second", "cpu_ms_per_second"),
    ("wlcap's capture thread, CPU ms per second", "capture_thread_ms_per_second"),
    ("new frames delivered per second (OBS renders at the fps named)", "delivered_per_second"),
    ("latency commit -> OBS frame, median ms", "latency_median_ms"),
    ("latency commit -> OBS frame, p95 ms", "latency_p95_ms"),
    ("latency commit -> OBS output callback, p95 ms", "latency_output_p95_ms"),
    ("share of OBS frames blank where the window is (no picture)", "blank_output_share"),
    ("DMA-BUF imports per OBS frame", "imports_per_frame"),
    ("texture uploads or creations per OBS frame", "uploads_per_frame"),
]


def table(rows: dict[str, dict[str, float | None]], sources: Sequence[str]) -> str:
    """A Markdown table: one line a figure, one column a source (medians over the rounds)."""
    lines = ["| figure | " + " | ".join(sources) + " |", "| --- |" + " --- |" * len(sources)]
    for label, key in ROWS:
        cells = []
        for source in sources:
            value = rows.get(source, {}).get(key)
            cells.append("—" if value is None else f"{value:g}")
        if any(cell != "—" for cell in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cell(values: Sequence[float | None]) -> str:
    return " / ".join("—" if v is None else f"{v:g}" for v in values)


def summary(results: Sequence[dict[str, object]], sources: Sequence[str]) -> str:
    """One line per size, fps and scene, the figures that decide, each cell the sources' medians in
    `sources` order."""
    keys = [("OBS frame, ms", "obs_frame_ms"), ("OBS render CPU per frame, ms", "render_cpu_ms_per_frame"),
            ("video_render, ms", "video_render_ms"),
            ("CPU, ms/s", "cpu_ms_per_second"), ("CPU per delivered frame, ms", "cpu_ms_per_delivered"),
            ("delivered/s", "delivered_per_second"), ("latency median, ms", "latency_median_ms"),
            ("latency p95, ms", "latency_p95_ms"), ("imports/frame", "imports_per_frame")]
    header = "| size, fps, screen | " + " | ".join(label for label, _ in keys) + " |"
    lines = [f"({' / '.join(sources)})", "", header, "| --- |" + " --- |" * len(keys)]
    groups = sorted({(str(r["size"]), int(str(r["fps"])), str(r["scene"])) for r in results})
    for size, fps, scene in groups:
        mine = [r for r in results if (r["size"], r["fps"], r["scene"]) == (size, fps, scene)]
        cells = [cell([median(float(v) if isinstance(v, (int, float)) else None
                              for r in mine if r["source"] == source for v in [r.get(key)])
                       for source in sources]) for _, key in keys]
        lines.append(f"| {size} @ {fps}, {scene} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
