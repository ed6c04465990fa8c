"""Windows (toplevels) as ext-foreign-toplevel-list-v1 lists them: identifier, title, app id.

The list is bound only when a caller needs windows: every bind makes the compositor send the whole
list. A handle stays the same object when its title changes, so a capture follows the window, not
the title it had when chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from capture.errors import MissingProtocolError, UnknownWindowError
from capture.wayland import protocols
from capture.wayland.outputs import HandlerGuard

if TYPE_CHECKING:
    from capture.wayland.connection import Connection

LIST_INTERFACE = "ext_foreign_toplevel_list_v1"


@dataclass(frozen=True)
class WindowInfo:
    identifier: str  # unique for the life of the compositor; never reused
    title: str
    app_id: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @property
    def label(self) -> str:
        """How the CLI and the OBS window list name a window."""
        if self.app_id and self.title:
            return f"{self.title} [{self.app_id}]"
        return self.title or self.app_id or self.identifier


class Toplevel:
    """One ext_foreign_toplevel_handle_v1; its fields are current from its first `done` on."""

    def __init__(self, guard: HandlerGuard, proxy: Any, on_closed: Callable[[Toplevel], None],
                 on_done: Callable[[Toplevel], None]) -> None:
        self.proxy = proxy
        self.identifier = ""
        self.title = ""
        self.app_id = ""
        self.ready = False
        self.closed = False
        self._pending: dict[str, str] = {}
        self._on_closed = on_closed
        self._on_done = on_done
        for event in ("identifier", "title", "app_id", "done", "closed"):
            proxy.dispatcher[event] = guard(getattr(self, f"_handle_{event}"))

    def _handle_identifier(self, _proxy: Any, identifier: str) -> None:
        self._pending["identifier"] = identifier

    def _handle_title(self, _proxy: Any, title: str) -> None:
        self._pending["title"] = title

    def _handle_app_id(self, _proxy: Any, app_id: str) -> None:
        self._pending["app_id"] = app_id

    def _handle_done(self, _proxy: Any) -> None:
        # Changes are atomic at `done`: a title change never shows half-applied.
        for key, value in self._pending.items():
            setattr(self, key, value)
        self._pending.clear()
        self.ready = True
        self._on_done(self)

    def _handle_closed(self, _proxy: Any) -> None:
        self.closed = True
        self._on_closed(self)

    def info(self) -> WindowInfo:
        return WindowInfo(self.identifier, self.title, self.app_id)

    def destroy(self) -> None:
        if not self.proxy.destroyed:
            self.proxy.destroy()


class ToplevelList:
    """All toplevels of one connection; binds ext_foreign_toplevel_list_v1 and fills in at a roundtrip."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._toplevels: list[Toplevel] = []
        self._close_listeners: list[Callable[[Toplevel], None]] = []
        self._change_listeners: list[Callable[[], None]] = []
        self.proxy = connection.bind_global(LIST_INTERFACE, protocols.ExtForeignToplevelListV1, 1)
        if self.proxy is None:
            raise MissingProtocolError(
                f"compositor doesn't support {LIST_INTERFACE} (needed to list and capture windows)")
        self.proxy.dispatcher["toplevel"] = connection.guard(self._handle_toplevel)
        self.proxy.dispatcher["finished"] = connection.guard(self._handle_finished)
        connection.roundtrip()  # the list, each handle's fields and its `done`

    def _handle_toplevel(self, _proxy: Any, handle: Any) -> None:
        self._toplevels.append(Toplevel(self._connection.guard, handle, self._handle_closed, self._handle_done))

    def _handle_done(self, _toplevel: Toplevel) -> None:
        self._changed()

    def _changed(self) -> None:
        for listener in list(self._change_listeners):
            listener()

    def on_changed(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call listener() whenever a window appears, is retitled (its `done`) or closes; returns a
        function that unsubscribes."""
        self._change_listeners.append(listener)
        return lambda: self._change_listeners.remove(listener)

    def _handle_finished(self, _proxy: Any) -> None:
        if not self.proxy.destroyed:
            self.proxy.destroy()

    def _handle_closed(self, toplevel: Toplevel) -> None:
        if toplevel in self._toplevels:
            self._toplevels.remove(toplevel)
        for listener in list(self._close_listeners):
            listener(toplevel)
        toplevel.destroy()
        self._changed()

    def on_closed(self, listener: Callable[[Toplevel], None]) -> Callable[[], None]:
        """Call listener(toplevel) when a window closes; returns a function that unsubscribes."""
        self._close_listeners.append(listener)
        return lambda: self._close_listeners.remove(listener)

    def all(self) -> list[Toplevel]:
        return [t for t in self._toplevels if t.ready and not t.closed]

    def find(self, query: str) -> Toplevel:
        """The window `query` names: its identifier, else its app id, else its exact title, else the
        one window whose title contains it. An app id names the same application after a restart,
        which is why the OBS source remembers windows by app id."""
        windows = self.all()
        for exact in ([t for t in windows if t.identifier == query], [t for t in windows if t.app_id == query],
                      [t for t in windows if t.title == query]):
            if exact:
                return exact[0]  # several windows of one app: the oldest
        partial = [t for t in windows if query and query in t.title]
        if len(partial) == 1:
            return partial[0]
        if partial:
            labels = ", ".join(repr(t.info().label) for t in partial)
            raise UnknownWindowError(f"window {query!r} is ambiguous (matches {labels})")
        listed = ", ".join(repr(t.info().label) for t in windows) or "none"
        raise UnknownWindowError(f"no window {query!r} (windows: {listed})")

    def destroy(self) -> None:
        for toplevel in self._toplevels:
            toplevel.destroy()
        self._toplevels.clear()
        if not self.proxy.destroyed:
            self.proxy.stop()
            self.proxy.destroy()
