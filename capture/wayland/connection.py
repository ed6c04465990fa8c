"""One Wayland connection: the registry, the globals wlcap binds, outputs, and a pump that never blocks
the caller longer than it asks.

pywayland prints and swallows exceptions raised in event handlers, so every handler is wrapped with
`Connection.guard`: the exception is recorded and raised from the next `pump`/`roundtrip`.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import select
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from pywayland.client.display import Display
from pywayland.protocol_core.interface import Interface

from capture.errors import (
    CompositorUnavailableError,
    ConnectionLostError,
    MissingProtocolError,
    ProtocolStateError,
    WlcapError,
)
from capture.wayland import display as wl_display
from capture.wayland import protocols
from capture.wayland.outputs import OutputTracker

# How long a round trip may take before the compositor counts as stuck.
ROUNDTRIP_SECONDS = 10.0

# Highest versions of each global this client implements.
SUPPORTED_VERSIONS = {
    "wl_shm": 1,
    "wl_output": 4,
    "zxdg_output_manager_v1": 3,
    "zwlr_screencopy_manager_v1": 3,
    "zwp_linux_dmabuf_v1": 4,
    "ext_image_copy_capture_manager_v1": 1,
    "ext_output_image_capture_source_manager_v1": 1,
    "ext_foreign_toplevel_image_capture_source_manager_v1": 1,
}
_INTERFACES = {
    "wl_shm": protocols.WlShm,
    "zxdg_output_manager_v1": protocols.ZxdgOutputManagerV1,
    "zwlr_screencopy_manager_v1": protocols.ZwlrScreencopyManagerV1,
    "zwp_linux_dmabuf_v1": protocols.ZwpLinuxDmabufV1,
    "ext_image_copy_capture_manager_v1": protocols.ExtImageCopyCaptureManagerV1,
    "ext_output_image_capture_source_manager_v1": protocols.ExtOutputImageCaptureSourceManagerV1,
    "ext_foreign_toplevel_image_capture_source_manager_v1": protocols.ExtForeignToplevelImageCaptureSourceManagerV1,
}


# pywayland frees proxies when they are garbage-collected; at interpreter exit that can happen after
# their display was freed (a crash). Connections still open at exit are closed first, in order.
_open_connections: weakref.WeakSet[Connection] = weakref.WeakSet()


@atexit.register
def _close_open_connections() -> None:
    for connection in list(_open_connections):
        connection.close()


def _interfaces() -> list[type[Interface]]:
    """Every protocol interface class generated (wlcap's XML, and pywayland's own wayland.xml)."""
    found, pending = [], list(Interface.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _describe_protocol_error(interface: str, code: int) -> str:
    """`zwlr_screencopy_frame_v1 error 1: invalid_buffer`: the code's name where wlcap has the XML."""
    for cls in _interfaces():
        if cls.name == interface and hasattr(cls, "error"):
            with contextlib.suppress(ValueError):
                return f"{interface} error {code}: {cls.error(code).name}"
    return f"{interface} error {code}"


class Connection:
    """A live connection to a compositor. Use from one thread at a time."""

    def __init__(self, display_name: str | None = None) -> None:
        name = display_name or os.environ.get("WAYLAND_DISPLAY")
        if not name and "WAYLAND_SOCKET" not in os.environ:
            raise CompositorUnavailableError("WAYLAND_DISPLAY is not set: no Wayland compositor to capture")
        self.display = Display(name)
        try:
            self.display.connect()
        except ValueError:
            raise CompositorUnavailableError(
                f"cannot connect to Wayland display {name!r}: is the compositor running?"
            ) from None
        self._handler_errors: list[BaseException] = []
        self._wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._wake_lock = threading.Lock()  # `wake` may race with `close` from another thread
        self._closed = False
        self.globals: dict[str, tuple[int, int]] = {}  # interface -> (global name, version)
        self.bound: dict[str, Any] = {}  # interface -> proxy of the singletons wlcap uses
        # interface -> bound version (pywayland does not expose wl_proxy_get_version; objects a
        # global creates share its version)
        self.bound_versions: dict[str, int] = {}
        self.outputs = OutputTracker(self.guard)
        self._callbacks: set[Any] = set()  # wl_callbacks in flight (see `sync`)
        self._pump_thread: int | None = None  # the thread that pumps (ident), once one has
        _open_connections.add(self)
        self._registry = self.display.get_registry()
        self._registry.dispatcher["global"] = self.guard(self._handle_global)
        self._registry.dispatcher["global_remove"] = self.guard(self._handle_global_remove)
        try:
            self.roundtrip()  # the globals
            self.roundtrip()  # what the globals bound above send on bind (outputs, xdg-output, dmabuf)
        except BaseException:
            self.close()
            raise

    # -- handler error plumbing -------------------------------------------------------------------------

    def guard(self, handler: Callable[..., Any]) -> Callable[..., None]:
        """Wrap an event handler so that what it raises is recorded instead of swallowed."""

        def guarded(*args: Any) -> None:  # no functools.wraps: this runs for every frame's handlers
            try:
                handler(*args)
            except BaseException as exc:
                self._handler_errors.append(exc)

        return guarded

    def raise_handler_errors(self) -> None:
        if not self._handler_errors:
            return
        first = self._handler_errors[0]
        self._handler_errors.clear()
        if isinstance(first, WlcapError):
            raise first
        raise ProtocolStateError(f"event handler failed: {first!r}") from first

    # -- registry ---------------------------------------------------------------------------------------

    def _handle_global(self, registry: Any, name: int, interface: str, version: int) -> None:
        self.globals[interface] = (name, version)
        if interface == "wl_output":
            bound_version = min(version, SUPPORTED_VERSIONS["wl_output"])
            self.outputs.add(name, registry.bind(name, protocols.WlOutput, bound_version), bound_version)
        elif interface in _INTERFACES and interface not in self.bound:
            wanted = min(version, SUPPORTED_VERSIONS[interface])
            self.bound[interface] = registry.bind(name, _INTERFACES[interface], wanted)
            self.bound_versions[interface] = wanted
            if interface == "zxdg_output_manager_v1":
                self.outputs.attach_xdg_manager(self.bound[interface])

    def _handle_global_remove(self, registry: Any, name: int) -> None:
        self.outputs.remove(name)
        for interface, (global_name, _version) in list(self.globals.items()):
            if global_name == name:
                del self.globals[interface]

    def require(self, interface: str, purpose: str) -> Any:
        """The bound proxy of a global, or MissingProtocolError naming what it was needed for."""
        proxy = self.bound.get(interface)
        if proxy is None:
            raise MissingProtocolError(f"compositor doesn't support {interface} (needed for {purpose})")
        return proxy

    def bind_global(self, interface: str, cls: Any, max_version: int) -> Any:
        """Bind a global on demand (for globals that send a burst on bind, like the toplevel list);
        None if the compositor does not offer it. The caller owns the proxy."""
        entry = self.globals.get(interface)
        if entry is None:
            return None
        name, version = entry
        return self._registry.bind(name, cls, min(version, max_version))

    def version(self, interface: str) -> int:
        """The version a global was bound at, 0 if it is not bound."""
        return self.bound_versions.get(interface, 0)

    # -- pumping ----------------------------------------------------------------------------------------

    def _check(self, ret: int, what: str) -> int:
        if ret >= 0:
            return ret
        code = wl_display.error(self.display)
        if code == errno.EPROTO:
            reason = "the compositor closed the connection with a protocol error"
            error = wl_display.protocol_error(self.display)
            if error is not None:
                reason += f" ({_describe_protocol_error(*error)})"
        else:
            reason = f"compositor connection lost ({errno.errorcode.get(code, code)})"
        raise ConnectionLostError(f"{reason} during {what}")

    def roundtrip(self, timeout: float = ROUNDTRIP_SECONDS) -> None:
        """Wait until the compositor has answered everything sent so far, at most `timeout` seconds."""
        answered: list[bool] = []
        self.sync(lambda: answered.append(True))
        deadline = time.monotonic() + timeout
        while not answered:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConnectionLostError(f"the compositor has not answered for {timeout:g} s")
            self.pump(remaining)

    def flush(self) -> None:
        ret = wl_display.flush(self.display)
        if ret < 0 and wl_display.error(self.display) not in (0, errno.EAGAIN):
            self._check(ret, "flush")

    def on_pump_thread(self) -> bool:
        """Whether the caller is the thread that pumps this connection (its objects are its own)."""
        return threading.get_ident() == self._pump_thread

    def pump(self, timeout: float | None) -> bool:
        """Dispatch what has arrived, then wait at most `timeout` seconds for more (None: until some).
        Returns whether `wake` was called (by any thread) since the last pump."""
        self._pump_thread = threading.get_ident()
        self._check(wl_display.dispatch_pending(self.display), "dispatch")
        self.raise_handler_errors()
        self.flush()
        fd = self.display.get_fd()
        readable, _, _ = select.select([fd, self._wake_fd], [], [], timeout)
        woken = self._wake_fd in readable
        if woken:
            with contextlib.suppress(BlockingIOError):
                os.eventfd_read(self._wake_fd)
        if fd in readable:
            # The fd is readable, so wl_display_dispatch's own poll returns at once.
            self._check(wl_display.dispatch(self.display), "dispatch")
        self.raise_handler_errors()
        return woken

    def sync(self, on_done: Callable[[], None]) -> None:
        """Ask the compositor to answer (wl_display.sync); on_done runs on this connection's thread
        when it does. A compositor that answers is alive, whether or not frames come."""
        callback = self.display.sync()
        # pywayland destroys a proxy it no longer references: keep the callback until it fires.
        self._callbacks.add(callback)

        def done(_callback: Any, _data: int) -> None:
            self._callbacks.discard(callback)
            on_done()

        callback.dispatcher["done"] = self.guard(done)
        self.flush()

    @property
    def wake_fd(self) -> int:
        return self._wake_fd

    def wake(self) -> None:
        """Make a `pump` blocked in another thread return early (safe from any thread)."""
        with self._wake_lock:
            if not self._closed:
                os.eventfd_write(self._wake_fd, 1)

    def close(self) -> None:
        with self._wake_lock:
            if self._closed:
                return
            self._closed = True
        self.outputs.destroy_all()
        for proxy in self.bound.values():
            if not proxy.destroyed and hasattr(proxy, "destroy"):
                proxy.destroy()
        self.bound.clear()
        wl_display.flush(self.display)  # the destroy requests; a dead connection ignores it
        self.display.disconnect()
        with self._wake_lock:
            os.close(self._wake_fd)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
