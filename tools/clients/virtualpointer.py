"""A virtual pointer (zwlr_virtual_pointer_v1) driven from stdin, for the tests and the demo.

    python3 tools/clients/virtualpointer.py

A compositor without input devices (sway headless, or on a virtual GPU with WLR_LIBINPUT_NO_DEVICES)
has no pointer on its seat, hence no cursor to capture; this client gives it one for as long as it
runs. Commands, one a line: `move X Y` (the hotspot to X, Y in layout pixels), `quit`. After each move
it prints `moved X Y` once the compositor has processed it.
"""

from __future__ import annotations

import sys
from typing import Any

from client_protocols import load
from pywayland.client import Display

WlOutput = load("wayland").WlOutput
ZwlrVirtualPointerManagerV1 = load("wlr_virtual_pointer_unstable_v1").ZwlrVirtualPointerManagerV1

WL_OUTPUT_MODE_CURRENT = 1


class VirtualPointer:
    def __init__(self) -> None:
        self.display = Display()
        self.display.connect()
        self._manager: Any = None
        self._modes: dict[Any, tuple[int, int]] = {}
        self._positions: dict[Any, tuple[int, int]] = {}
        registry = self.display.get_registry()
        registry.dispatcher["global"] = self._handle_global
        self.display.roundtrip()
        self.display.roundtrip()  # the outputs' geometry and mode
        if self._manager is None:
            raise SystemExit("compositor doesn't support zwlr_virtual_pointer_manager_v1")
        self.pointer = self._manager.create_virtual_pointer(None)

    def _handle_global(self, registry: Any, name: int, interface: str, version: int) -> None:
        if interface == "zwlr_virtual_pointer_manager_v1":
            self._manager = registry.bind(name, ZwlrVirtualPointerManagerV1, 1)
        elif interface == "wl_output":
            output = registry.bind(name, WlOutput, 1)
            output.dispatcher["geometry"] = self._handle_geometry
            output.dispatcher["mode"] = self._handle_mode

    def _handle_geometry(self, output: Any, x: int, y: int, *_rest: Any) -> None:
        self._positions[output] = (x, y)

    def _handle_mode(self, output: Any, flags: int, width: int, height: int, _refresh: int) -> None:
        if flags & WL_OUTPUT_MODE_CURRENT:
            self._modes[output] = (width, height)

    def layout_extent(self) -> tuple[int, int]:
        """The layout's size: motion_absolute maps 0..extent onto it. wl_output v1 gives positions and
        modes, which is exact for the unscaled outputs of a test compositor."""
        right = max((self._positions.get(o, (0, 0))[0] + w for o, (w, _h) in self._modes.items()), default=1)
        bottom = max((self._positions.get(o, (0, 0))[1] + h for o, (_w, h) in self._modes.items()), default=1)
        return right, bottom

    def move(self, x: int, y: int) -> None:
        width, height = self.layout_extent()
        self.pointer.motion_absolute(0, x, y, width, height)
        self.pointer.frame()
        self.display.roundtrip()
        print(f"moved {x} {y}", flush=True)

    def run(self) -> None:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "move":
                self.move(int(words[1]), int(words[2]))
            elif words[0] == "quit":
                break
        self.pointer.destroy()
        self.display.roundtrip()
        self.display.disconnect()


def main() -> int:
    VirtualPointer().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
