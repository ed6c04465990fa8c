"""A tiny xdg-shell window of known pixels, for the tests and the damage benchmark, driven from stdin.

    python3 tools/clients/testwindow.py --app-id wlcap.test --title "Test window" --colour ff8000

Commands, one a line: `colour COLOUR` (repaint all), `rect X Y W H COLOUR` (repaint a rectangle and
damage only it), `size W H` (pick its own size, as a floating window may), `title TEXT`, `quit`. After
each commit it prints `drawn N WIDTH HEIGHT WHY` (WHY: configure, colour, rect or resize) so a test
knows what the compositor has been given, and why.

`animate [X Y W H]` repaints the rectangle (the whole window if none is given) at every frame the
compositor asks for, until `still`; each paint shows a new code, 1, 2, ... 4095, then 1 again, as the
colour (R, G, B) = 17 x (bits 8-11, 4-7, 0-3 of the code), and prints `painted CODE NS` with the
CLOCK_MONOTONIC time of its commit: what a benchmark needs to find when each paint reaches a picture.
`pace MS` paints at most once every MS milliseconds (0: every frame), for a machine that cannot
repaint every frame and would otherwise measure nothing but its own saturation.

A COLOUR is `RRGGBB`; with `--ten-bit` the window draws 10 bits a channel (XBGR2101010 where the
compositor takes it, as GLES2 renderers do, else XRGB2101010) and a COLOUR is `R,G,B`, each 0-1023, so
that it can show colours no 8-bit buffer holds.
"""

from __future__ import annotations

import argparse
import mmap
import os
import select
import sys
import time
from dataclasses import dataclass
from typing import Any

from client_protocols import load
from pywayland.client import Display

WlCompositor, WlShm = load("wayland").WlCompositor, load("wayland").WlShm
XdgWmBase = load("xdg_shell").XdgWmBase

WL_SHM_FORMAT_XRGB8888 = 1
WL_SHM_FORMAT_XRGB2101010 = 0x30335258  # 'XR30'
WL_SHM_FORMAT_XBGR2101010 = 0x30334258  # 'XB30'
DEFAULT_SIZE = (320, 240)


def pixel(colour: str, shm_format: int = WL_SHM_FORMAT_XRGB8888) -> bytes:
    """One pixel, little-endian: XRGB8888 for RRGGBB; for R,G,B (10 bits each) the 10-bit format."""
    if "," in colour:
        red, green, blue = (int(v) for v in colour.split(","))
        if shm_format == WL_SHM_FORMAT_XBGR2101010:
            red, blue = blue, red
        return ((red << 20) | (green << 10) | blue).to_bytes(4, "little")
    value = int(colour, 16)
    return bytes(((value) & 0xFF, (value >> 8) & 0xFF, (value >> 16) & 0xFF, 0xFF))  # B, G, R, X


MAX_BUFFERS = 3


@dataclass
class ShmBuffer:
    key: tuple[int, int, int]  # width, height, format
    mapping: mmap.mmap
    wl_buffer: Any
    busy: bool = False


class Window:
    def __init__(self, app_id: str, title: str, colour: str, ten_bit: bool = False) -> None:
        self.display = Display()
        self.display.connect()
        self.globals: dict[str, Any] = {}
        self.shm_formats: set[int] = set()
        registry = self.display.get_registry()
        registry.dispatcher["global"] = self._handle_global
        self.display.roundtrip()
        self.display.roundtrip()  # wl_shm's formats
        self.shm_format = WL_SHM_FORMAT_XRGB8888
        if ten_bit:
            offered = [f for f in (WL_SHM_FORMAT_XBGR2101010, WL_SHM_FORMAT_XRGB2101010) if f in self.shm_formats]
            if not offered:
                raise SystemExit("the compositor takes no 10-bit shared-memory buffer")
            self.shm_format = offered[0]
        self.wm_base = self.globals["xdg_wm_base"]
        self.wm_base.dispatcher["ping"] = lambda base, serial: base.pong(serial)
        self.surface = self.globals["wl_compositor"].create_surface()
        self.xdg_surface = self.wm_base.get_xdg_surface(self.surface)
        self.toplevel = self.xdg_surface.get_toplevel()
        self.toplevel.set_app_id(app_id)
        self.toplevel.set_title(title)
        self.toplevel.dispatcher["configure"] = self._handle_toplevel_configure
        self.toplevel.dispatcher["close"] = lambda _t: self.quit()
        self.xdg_surface.dispatcher["configure"] = self._handle_configure
        self.size = DEFAULT_SIZE
        self._pending_size = DEFAULT_SIZE
        self.pixels = bytearray()
        self.buffers: list[ShmBuffer] = []
        self.colour = colour
        self.draws = 0
        self.animated: tuple[int, int, int, int] | None = None
        self.code = 0
        self.pace_ns = 0
        self._last_paint_ns = 0
        self._paint_due_ns: int | None = None  # a frame came before the pace allowed the next paint
        self._frame_callback: Any = None
        self.running = True
        self.surface.commit()  # the initial commit without a buffer asks for a configure

    def _handle_global(self, registry: Any, name: int, interface: str, version: int) -> None:
        classes = {"wl_compositor": (WlCompositor, 4), "wl_shm": (WlShm, 1), "xdg_wm_base": (XdgWmBase, 1)}
        if interface in classes:
            cls, wanted = classes[interface]
            self.globals[interface] = registry.bind(name, cls, min(version, wanted))
            if interface == "wl_shm":
                self.globals[interface].dispatcher["format"] = lambda _shm, fmt: self.shm_formats.add(fmt)

    def _handle_toplevel_configure(self, _toplevel: Any, width: int, height: int, _states: bytes) -> None:
        self._pending_size = (width or DEFAULT_SIZE[0], height or DEFAULT_SIZE[1])

    def _handle_configure(self, xdg_surface: Any, serial: int) -> None:
        xdg_surface.ack_configure(serial)
        if self._pending_size != self.size or not self.pixels:
            self.size = self._pending_size
            self.fill(self.colour, "configure")

    def fill(self, colour: str, why: str = "colour") -> None:
        self.colour = colour
        width, height = self.size
        self.pixels = bytearray(pixel(colour, self.shm_format) * (width * height))
        self.commit([(0, 0, width, height)], why)

    def rect(self, x: int, y: int, w: int, h: int, colour: str) -> None:
        width = self.size[0]
        row = pixel(colour, self.shm_format) * w
        for line in range(y, y + h):
            start = (line * width + x) * 4
            self.pixels[start:start + len(row)] = row
        self.commit([(x, y, w, h)], "rect")

    def animate(self, area: tuple[int, int, int, int]) -> None:
        self.animated = area
        if self._frame_callback is None:  # else the frame already asked for paints next
            self._paint_next()

    def _frame_done(self, *_args: Any) -> None:
        self._frame_callback = None
        due = self._last_paint_ns + self.pace_ns
        if self.animated is not None and time.monotonic_ns() < due:
            self._paint_due_ns = due
            return
        self._paint_next()

    def _paint_next(self) -> None:
        self._paint_due_ns = None
        if self.animated is None:
            return
        self._last_paint_ns = time.monotonic_ns()
        self.code = self.code % 4095 + 1
        colour = "".join(f"{17 * ((self.code >> shift) & 15):02x}" for shift in (8, 4, 0))
        x, y, w, h = self.animated
        row = pixel(colour, self.shm_format) * w
        width = self.size[0]
        for line in range(y, y + h):
            start = (line * width + x) * 4
            self.pixels[start:start + len(row)] = row
        self._frame_callback = self.surface.frame()  # kept: pywayland destroys a proxy nobody holds
        self._frame_callback.dispatcher["done"] = self._frame_done
        self.commit([self.animated], "")

    def _free_buffer(self) -> ShmBuffer:
        """A buffer of the current size the compositor has released, or a new one: a real client
        double-buffers, and a fresh memfd a frame costs a page fault per page (slow under emulation)."""
        key = (*self.size, self.shm_format)
        for buffer in self.buffers:
            if not buffer.busy and buffer.key == key:
                return buffer
        for buffer in [b for b in self.buffers if not b.busy and b.key != key]:
            self._drop(buffer)  # released before the window changed size
        width, height = self.size
        fd = os.memfd_create("wlcap-test-window", os.MFD_CLOEXEC)
        os.ftruncate(fd, width * height * 4)
        pool = self.globals["wl_shm"].create_pool(fd, width * height * 4)
        buffer = ShmBuffer(key, mmap.mmap(fd, width * height * 4),
                           pool.create_buffer(0, width, height, width * 4, self.shm_format))
        pool.destroy()
        os.close(fd)
        buffer.wl_buffer.dispatcher["release"] = lambda _b: self._released(buffer)
        self.buffers.append(buffer)
        return buffer

    def _released(self, buffer: ShmBuffer) -> None:
        buffer.busy = False
        if buffer.key != (*self.size, self.shm_format) or len(self.buffers) > MAX_BUFFERS:
            self._drop(buffer)  # an old size, or more than double-buffering needs

    def _drop(self, buffer: ShmBuffer) -> None:
        self.buffers.remove(buffer)
        buffer.wl_buffer.destroy()
        buffer.mapping.close()

    def commit(self, damage: list[tuple[int, int, int, int]], why: str) -> None:
        width, height = self.size
        buffer = self._free_buffer()
        buffer.mapping[:] = self.pixels
        buffer.busy = True
        self.surface.attach(buffer.wl_buffer, 0, 0)
        for x, y, w, h in damage:
            self.surface.damage_buffer(x, y, w, h)
        committed_ns = time.monotonic_ns()
        self.surface.commit()
        self.display.flush()
        if not why:  # an animation frame
            print(f"painted {self.code} {committed_ns}", flush=True)
            return
        self.draws += 1
        print(f"drawn {self.draws} {width} {height} {why}", flush=True)

    def command(self, line: str) -> None:
        words = line.split()
        if not words:
            return
        if words[0] == "colour":
            self.fill(words[1])
        elif words[0] == "rect":
            x, y, w, h = (int(v) for v in words[1:5])
            self.rect(x, y, w, h, words[5])
        elif words[0] == "size":
            self.size = (int(words[1]), int(words[2]))
            self.fill(self.colour, "resize")
        elif words[0] == "animate":
            x, y, w, h = (int(v) for v in words[1:5]) if len(words) == 5 else (0, 0, *self.size)
            self.animate((x, y, w, h))
        elif words[0] == "still":
            self.animated = None
        elif words[0] == "pace":
            self.pace_ns = int(words[1]) * 1_000_000
        elif words[0] == "title":
            self.toplevel.set_title(line.split(" ", 1)[1].rstrip("\n"))
            self.display.flush()
            print("titled", flush=True)
        elif words[0] == "quit":
            self.quit()

    def quit(self) -> None:
        self.running = False

    def run(self) -> None:
        fd = self.display.get_fd()
        stdin = sys.stdin.fileno()
        pending = b""
        while self.running:
            self.display.dispatch(block=False)
            self.display.flush()
            timeout = 1.0 if self._paint_due_ns is None else max(0.0, (self._paint_due_ns - time.monotonic_ns()) / 1e9)
            readable, _, _ = select.select([fd, stdin], [], [], timeout)
            if self._paint_due_ns is not None and time.monotonic_ns() >= self._paint_due_ns:
                self._paint_next()
            if fd in readable:
                self.display.dispatch(block=True)
            if stdin in readable:
                # Unbuffered: a line Python's stdin buffer held back would never wake select again.
                data = os.read(stdin, 65536)
                if not data:
                    break
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    self.command(line.decode())
        self.toplevel.destroy()
        self.xdg_surface.destroy()
        self.surface.destroy()
        self.display.flush()
        self.display.disconnect()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-id", default="wlcap.test")
    parser.add_argument("--title", default="wlcap test window")
    parser.add_argument("--colour", default="ff8000")
    parser.add_argument("--ten-bit", action="store_true", help="draw 10 bits a channel; colours are R,G,B (0-1023)")
    args = parser.parse_args()
    Window(args.app_id, args.title, args.colour, args.ten_bit).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
