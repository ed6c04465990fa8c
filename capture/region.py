"""Capture regions in grim's syntax, "X,Y WxH", in output-local pixels."""

from __future__ import annotations

import re
from dataclasses import dataclass

from capture.errors import RegionError
from capture.wayland.outputs import OutputInfo

_REGION = re.compile(r"^\s*(-?\d+)\s*,\s*(-?\d+)\s+(\d+)\s*x\s*(\d+)\s*$")


@dataclass(frozen=True)
class Region:
    x: int
    y: int
    width: int
    height: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.width, self.height

    def __str__(self) -> str:
        return f"{self.x},{self.y} {self.width}x{self.height}"

    @classmethod
    def parse(cls, text: str) -> Region:
        match = _REGION.match(text)
        if not match:
            raise RegionError(f"invalid region {text!r}: expected \"X,Y WxH\", e.g. \"10,20 640x480\"")
        x, y, width, height = (int(group) for group in match.groups())
        if width <= 0 or height <= 0:
            raise RegionError(f"invalid region {text!r}: width and height must be positive")
        return cls(x, y, width, height)

    def check_inside(self, output: OutputInfo) -> None:
        out_w, out_h = output.transformed_size
        if self.x < 0 or self.y < 0 or self.x + self.width > out_w or self.y + self.height > out_h:
            raise RegionError(
                f"region {self} lies outside output {output.name} ({out_w}x{out_h} pixels)")

    def to_logical(self, output: OutputInfo) -> tuple[int, int, int, int]:
        """The region in the output's logical coordinates, which wlr-screencopy takes."""
        scale = max(output.scale, 1)
        return self.x // scale, self.y // scale, -(-self.width // scale), -(-self.height // scale)
