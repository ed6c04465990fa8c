"""Outputs (monitors) as the compositor describes them: wl_output v4 plus xdg-output.

Outputs come and go at any time (hotplug, `swaymsg output X disable`); the tracker follows the
registry and tells listeners when an output they use disappears.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from capture.errors import UnknownOutputError

# Connection.guard: wraps an event handler so that what it raises reaches the connection's pump.
HandlerGuard = Callable[[Callable[..., Any]], Callable[..., None]]

# enum wl_output.transform, in protocol order.
TRANSFORM_NAMES = ["normal", "90", "180", "270", "flipped", "flipped-90", "flipped-180", "flipped-270"]
WL_OUTPUT_MODE_CURRENT = 0x1


@dataclass(frozen=True)
class OutputInfo:
    """A snapshot of one output, as the CLI and the OBS properties show it."""

    name: str
    description: str
    make: str
    model: str
    x: int
    y: int
    logical_width: int
    logical_height: int
    width: int  # current mode, in buffer pixels (before transform)
    height: int
    refresh_mhz: int
    scale: int
    transform: int  # enum wl_output.transform

    @property
    def transform_name(self) -> str:
        return TRANSFORM_NAMES[self.transform] if 0 <= self.transform < 8 else str(self.transform)

    @property
    def transformed_size(self) -> tuple[int, int]:
        """Pixel size as seen upright (a 90/270 transform swaps width and height)."""
        if self.transform % 2:
            return self.height, self.width
        return self.width, self.height

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["transform"] = self.transform_name
        return data


class Output:
    """One bound wl_output and its xdg_output; fields fill in until the first `done`."""

    def __init__(self, guard: HandlerGuard, global_name: int, proxy: Any, version: int,
                 on_done: Callable[[Output], None]) -> None:
        self.global_name = global_name
        self.proxy = proxy
        self.version = version
        self.xdg: Any = None
        self.ready = False
        self._fields: dict[str, Any] = {
            "name": "", "description": "", "make": "", "model": "", "x": 0, "y": 0,
            "logical_width": 0, "logical_height": 0, "width": 0, "height": 0,
            "refresh_mhz": 0, "scale": 1, "transform": 0,
        }
        self._on_done = on_done
        proxy.dispatcher["geometry"] = guard(self._handle_geometry)
        proxy.dispatcher["mode"] = guard(self._handle_mode)
        proxy.dispatcher["scale"] = guard(self._handle_scale)
        proxy.dispatcher["name"] = guard(self._handle_name)
        proxy.dispatcher["description"] = guard(self._handle_description)
        proxy.dispatcher["done"] = guard(self._handle_done)
        self._guard = guard

    def attach_xdg(self, manager: Any) -> None:
        if self.xdg is not None:
            return
        self.xdg = manager.get_xdg_output(self.proxy)
        self.xdg.dispatcher["logical_position"] = self._guard(self._handle_logical_position)
        self.xdg.dispatcher["logical_size"] = self._guard(self._handle_logical_size)
        self.xdg.dispatcher["name"] = self._guard(self._handle_name)
        self.xdg.dispatcher["description"] = self._guard(self._handle_description)

    def _handle_geometry(self, _proxy: Any, x: int, y: int, _pw: int, _ph: int, _subpixel: int,
                         make: str, model: str, transform: int) -> None:
        self._fields.update(make=make, model=model, transform=transform)
        if self.xdg is None:  # xdg-output's logical position is more precise where it exists
            self._fields.update(x=x, y=y)

    def _handle_mode(self, _proxy: Any, flags: int, width: int, height: int, refresh: int) -> None:
        if flags & WL_OUTPUT_MODE_CURRENT:
            self._fields.update(width=width, height=height, refresh_mhz=refresh)

    def _handle_scale(self, _proxy: Any, factor: int) -> None:
        self._fields["scale"] = factor

    def _handle_name(self, _proxy: Any, name: str) -> None:
        self._fields["name"] = name

    def _handle_description(self, _proxy: Any, description: str) -> None:
        self._fields["description"] = description

    def _handle_logical_position(self, _proxy: Any, x: int, y: int) -> None:
        self._fields.update(x=x, y=y)

    def _handle_logical_size(self, _proxy: Any, width: int, height: int) -> None:
        self._fields.update(logical_width=width, logical_height=height)

    def _handle_done(self, _proxy: Any) -> None:
        self.ready = True
        self._on_done(self)

    @property
    def name(self) -> str:
        return str(self._fields["name"])

    def info(self) -> OutputInfo:
        fields = dict(self._fields)
        if not fields["logical_width"]:  # no xdg-output: derive the logical size
            w, h = (fields["height"], fields["width"]) if fields["transform"] % 2 else (
                fields["width"], fields["height"])
            fields["logical_width"], fields["logical_height"] = w // fields["scale"], h // fields["scale"]
        return OutputInfo(**fields)

    def destroy(self) -> None:
        if self.xdg is not None and not self.xdg.destroyed:
            self.xdg.destroy()
        if not self.proxy.destroyed:
            if self.version >= 3:  # wl_output.release exists since v3
                self.proxy.release()
            else:
                self.proxy.destroy()


class OutputTracker:
    """All outputs of one connection, keyed by registry name."""

    def __init__(self, guard: HandlerGuard) -> None:
        self._guard = guard
        self._outputs: dict[int, Output] = {}
        self._xdg_manager: Any = None
        self._removal_listeners: list[Callable[[Output], None]] = []
        self._change_listeners: list[Callable[[], None]] = []

    def add(self, global_name: int, proxy: Any, version: int) -> None:
        output = Output(self._guard, global_name, proxy, version, self._handle_done)
        if self._xdg_manager is not None:
            output.attach_xdg(self._xdg_manager)
        self._outputs[global_name] = output

    def attach_xdg_manager(self, manager: Any) -> None:
        self._xdg_manager = manager
        for output in self._outputs.values():
            output.attach_xdg(manager)

    def remove(self, global_name: int) -> None:
        output = self._outputs.pop(global_name, None)
        if output is None:
            return
        for listener in list(self._removal_listeners):
            listener(output)
        output.destroy()
        self._changed()

    def _handle_done(self, _output: Output) -> None:
        self._changed()

    def _changed(self) -> None:
        for listener in list(self._change_listeners):
            listener()

    def on_changed(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call listener() whenever an output appears, changes (its `done`) or disappears; returns a
        function that unsubscribes."""
        self._change_listeners.append(listener)
        return lambda: self._change_listeners.remove(listener)

    def on_removed(self, listener: Callable[[Output], None]) -> Callable[[], None]:
        """Call listener(output) when an output disappears; returns a function that unsubscribes."""
        self._removal_listeners.append(listener)
        return lambda: self._removal_listeners.remove(listener)

    def all(self) -> list[Output]:
        return sorted((o for o in self._outputs.values() if o.ready), key=lambda o: o.name)

    def find(self, name: str | None) -> Output:
        """The output called name, or the first output when name is None or empty."""
        outputs = self.all()
        if not outputs:
            raise UnknownOutputError("the compositor has no outputs")
        if not name:
            return outputs[0]
        for output in outputs:
            if output.name == name:
                return output
        names = ", ".join(o.name for o in outputs)
        raise UnknownOutputError(f"unknown output {name!r} (outputs: {names})")

    def destroy_all(self) -> None:
        for output in self._outputs.values():
            output.destroy()
        self._outputs.clear()
