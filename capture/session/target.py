"""The output a session captures: found by name, the region checked against it, and where the region
is cut (by the compositor, or by the consumer from the whole output)."""

from __future__ import annotations

from collections.abc import Callable

from capture.errors import UnknownOutputError
from capture.region import Region
from capture.wayland.connection import Connection
from capture.wayland.outputs import Output, OutputInfo


class OutputTarget:
    def __init__(self, connection: Connection, name: str | None, region: Region | None,
                 compositor_crops: bool, on_removed: Callable[[UnknownOutputError], None]) -> None:
        """`compositor_crops`: the protocol can capture a region of an output (wlr-screencopy can;
        ext-image-copy-capture captures whole sources only)."""
        self.output: Output = connection.outputs.find(name)
        self.info: OutputInfo = self.output.info()
        # What the compositor is asked to capture, and what the consumer crops from it.
        self.compositor_region: Region | None = None
        self.crop: Region | None = None
        if region is not None:
            region.check_inside(self.info)
            # Region capture on a transformed output comes out misplaced on wlroots 0.15 (and
            # Hyprland, grim#100): there the whole output is captured and the consumer crops (OBS crops
            # in a shader anyway).
            if compositor_crops and self.info.transform == 0:
                self.compositor_region = region
            else:
                self.crop = region
        self._on_removed = on_removed
        self._unsubscribe = connection.outputs.on_removed(self._handle_removed)

    @property
    def name(self) -> str:
        return self.output.name

    def _handle_removed(self, output: Output) -> None:
        if output is self.output:
            self._on_removed(UnknownOutputError(f"output {output.name} disappeared"))

    def close(self) -> None:
        self._unsubscribe()
