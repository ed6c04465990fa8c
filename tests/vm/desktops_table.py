"""The README's compositor table, written from what the guest tier's compositor matrix measured
(tests/desktops writes SHARE/desktops/results.json), never by hand.

    python3 tests/vm/desktops_table.py SHARE/desktops/results.json            # print it, compare with README
    python3 tests/vm/desktops_table.py SHARE/desktops/results.json --update   # write it into README.md

Exit status 0; with --check, 1 when README.md's table differs from the measured one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent.parent.parent / "README.md"
START = "<!-- compositor table: written by tests/vm/desktops_table.py from the guest tier's results -->"
END = "<!-- end of compositor table -->"
ORDER = ["sway", "hyprland", "labwc", "cage", "weston"]
NAMES = {"sway": "sway", "hyprland": "Hyprland", "labwc": "labwc", "cage": "cage", "weston": "weston"}
PROTOCOLS = {"ext": "ext-image-copy-capture-v1", "wlr": "wlr-screencopy"}


def _protocols(facts: dict[str, Any]) -> str:
    offered = [PROTOCOLS[p] for p in facts.get("protocols", [])]
    return ", ".join(offered) if offered else "neither (wlcap says so in one line)"


def _buffers(facts: dict[str, Any]) -> str:
    if not facts.get("protocols"):
        return "-"
    kinds = []
    if any(key.startswith("screenshot_") and not key.endswith("_dmabuf") for key in facts):
        kinds.append("shm: exact")
    dmabuf = [what for what, key in (("stream", "stream_{}_dmabuf"), ("OBS", "obs_dmabuf"))
              if any(facts.get(key.format(p)) for p in ("ext", "wlr")) or facts.get(key)]
    if dmabuf:
        kinds.append(f"DMA-BUF: {' and '.join(dmabuf)}")
    return ", ".join(kinds) or "not measured"


def _window_capture(facts: dict[str, Any]) -> str:
    value = facts.get("window_capture", "not measured")
    return "works" if value == "exact" else value


def _ten_bit(facts: dict[str, Any]) -> str:
    exact = [f"{PROTOCOLS[key.rsplit('_', 1)[1]]}: {value.split(',')[0]}" for key, value in sorted(facts.items())
             if key in ("ten_bit_ext", "ten_bit_wlr") and value.endswith("exact")]
    if not exact:
        return "not tested here"
    obs = " and ".join(key.rsplit("_", 1)[1] for key in ("ten_bit_obs_shm", "ten_bit_obs_dmabuf") if key in facts)
    half_float = facts.get("half_float", "")
    float_note = f"; half float: {half_float.split(',')[0]}" if half_float and "," in half_float else ""
    return f"works ({'; '.join(exact)}{f'; OBS over {obs}' if obs else ''}{float_note})"


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = ["| compositor | version | capture protocols | buffers | window capture | cursor session | 10-bit |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in [n for n in ORDER if n in results] + sorted(set(results) - set(ORDER)):
        facts = results[name]
        captures = bool(facts.get("protocols"))
        rows.append(" | ".join([
            f"| {NAMES.get(name, name)}", facts.get("version", "?"), _protocols(facts), _buffers(facts),
            _window_capture(facts) if captures else "-", facts.get("cursor_session", "-") if captures else "-",
            _ten_bit(facts) if captures else "-"]) + " |")
    return "\n".join(rows)


def readme_table(text: str) -> str | None:
    if START not in text or END not in text:
        return None
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--update", action="store_true", help="write the table into README.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when README.md's table differs")
    args = parser.parse_args()
    measured = table(json.loads(args.results.read_text()))
    print(measured)
    text = README.read_text()
    current = readme_table(text)
    if args.update:
        if current is None:
            raise SystemExit(f"README.md has no compositor table markers ({START})")
        before, rest = text.split(START, 1)
        README.write_text(f"{before}{START}\n{measured}\n{END}{rest.split(END, 1)[1]}")
        print("README.md updated", file=sys.stderr)
        return 0
    if current != measured:
        print("README.md's compositor table differs from what was measured: "
              f"python3 tests/vm/desktops_table.py {args.results} --update", file=sys.stderr)
        return 1 if args.check else 0
    print("README.md's compositor table is what was measured", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
