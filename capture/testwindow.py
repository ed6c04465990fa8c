"""A tiny xdg-shell window of known pixels, for the tests and `wlcap bench --damage`, driven from stdin.

    python3 -m capture.testwindow --app-id wlcap.test --title "Test window" --colour ff8000

Commands, one a line: `colour RRGGBB` (repaint all), `rect X Y W H RRGGBB` (repaint a rectangle and
damage only it), `title TEXT`, `quit`. After each commit it prints `drawn N WIDTH HEIGHT WHY` (WHY:
configure, colour or rect) so a test knows what the compositor has been given, and why.
"""

from __future__ import annotations

import argparse
import mmap
import os
import select
import sys
from typing import Any

from pywayland.client import Display

from .protocols._generated.wayland import WlCompositor, WlShm
from .protocols._generated.xdg_shell import XdgWmBase

WL_SHM_FORMAT_XRGB8888 = 1
DEFAULT_SIZE = (320, 240)


def pixel(colour: str) -> bytes:
    value = int(colour, 16)
    return bytes(((value) & 0xFF, (value >> 8) & 0xFF, (value >> 16) & 0xFF, 0xFF))  # B, G, R, X


class Window:
    def __init__(self, app_id: str, title: str, colour: str) -> None:
        self.display = Display()
        self.display.connect()
        self.globals: dict[str, Any] = {}
        registry = self.display.get_registry()
        registry.dispatcher["global"] = self._handle_global
        self.display.roundtrip()
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
        self.colour = colour
        self.draws = 0
        self.running = True
        self.surface.commit()  # the initial commit without a buffer asks for a configure

    def _handle_global(self, registry: Any, name: int, interface: str, version: int) -> None:
        classes = {"wl_compositor": (WlCompositor, 4), "wl_shm": (WlShm, 1), "xdg_wm_base": (XdgWmBase, 1)}
        if interface in classes:
            cls, wanted = classes[interface]
            self.globals[interface] = registry.bind(name, cls, min(version, wanted))

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
        self.pixels = bytearray(pixel(colour) * (width * height))
        self.commit([(0, 0, width, height)], why)

    def rect(self, x: int, y: int, w: int, h: int, colour: str) -> None:
        width = self.size[0]
        row = pixel(colour) * w
        for line in range(y, y + h):
            start = (line * width + x) * 4
            self.pixels[start:start + len(row)] = row
        self.commit([(x, y, w, h)], "rect")

    def commit(self, damage: list[tuple[int, int, int, int]], why: str) -> None:
        width, height = self.size
        size = width * height * 4
        fd = os.memfd_create("wlcap-test-window", os.MFD_CLOEXEC)
        os.ftruncate(fd, size)
        with mmap.mmap(fd, size) as mapping:
            mapping[:] = self.pixels
        pool = self.globals["wl_shm"].create_pool(fd, size)
        buffer = pool.create_buffer(0, width, height, width * 4, WL_SHM_FORMAT_XRGB8888)
        buffer.dispatcher["release"] = lambda b: b.destroy()
        pool.destroy()
        os.close(fd)
        self.surface.attach(buffer, 0, 0)
        for x, y, w, h in damage:
            self.surface.damage_buffer(x, y, w, h)
        self.surface.commit()
        self.display.flush()
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
        while self.running:
            self.display.dispatch(block=False)
            self.display.flush()
            readable, _, _ = select.select([fd, stdin], [], [], 1.0)
            if fd in readable:
                self.display.dispatch(block=True)
            if stdin in readable:
                line = sys.stdin.readline()
                if not line:
                    break
                self.command(line)
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
    args = parser.parse_args()
    Window(args.app_id, args.title, args.colour).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
