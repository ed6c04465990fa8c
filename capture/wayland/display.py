"""The few libwayland calls wlcap makes on a display that pywayland's public API does not give.

pywayland 0.4 has no `wl_display_get_error`, and its `Display.dispatch` turns the error code into a
message. wlcap needs the code to tell a protocol error (EPROTO: the compositor closed the connection
over a bad request) from a lost connection, so these calls go through pywayland's cffi library and
the display's pointer: here, and nowhere else in wlcap. (Which object and code the protocol error
named, `wl_display_get_protocol_error`, pywayland does not declare at all: ctypes, on the same library.)
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable
from typing import Any

from pywayland import _ffi as _ffi_module  # private: see the module's docstring
from pywayland._ffi import ffi as _ffi
from pywayland._ffi import lib as _wl
from pywayland.client.display import Display


def _pywayland_libwayland() -> ctypes.CDLL:
    """The libwayland-client pywayland's calls land in. The dynamic linker resolves its cffi module's
    symbols in the process's global scope first (a program linked with libwayland, as OBS is), then
    among the module's own dependencies (PyPI's wheels bundle a libwayland-client of their own): a
    display is only for the library that made it to read."""
    process = ctypes.CDLL(None)
    if hasattr(process, "wl_display_get_protocol_error"):
        return process
    return ctypes.CDLL(_ffi_module.__file__)  # its symbols, then its dependencies'


# pywayland's cffi module does not declare wl_display_get_protocol_error: the same library, by ctypes.
_libwayland = _pywayland_libwayland()
_libwayland.wl_display_get_protocol_error.restype = ctypes.c_uint32
_libwayland.wl_display_get_protocol_error.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                                      ctypes.POINTER(ctypes.c_uint32)]


def _pointer(display: Display) -> Any:
    return display._ptr  # private: see the module's docstring


def dispatch_pending(display: Display) -> int:
    """Dispatch what is queued already, without reading the socket; -1 on error (see `error`)."""
    return int(_wl.wl_display_dispatch_pending(_pointer(display)))


def dispatch(display: Display) -> int:
    """Read what the socket holds (blocking if nothing does) and dispatch it; -1 on error."""
    return int(_wl.wl_display_dispatch(_pointer(display)))


def flush(display: Display) -> int:
    """Send queued requests; -1 on error (EAGAIN: the socket is full, try again later)."""
    return int(_wl.wl_display_flush(_pointer(display)))


def error(display: Display) -> int:
    """The errno the connection failed with, 0 while it is healthy."""
    return int(_wl.wl_display_get_error(_pointer(display)))


def protocol_error(display: Display) -> tuple[str, int] | None:
    """The interface and code of the protocol error the compositor closed the connection with (what
    libwayland prints as `interface#id: error code: message`); None when there was none."""
    interface = ctypes.c_void_p()
    object_id = ctypes.c_uint32()
    code = _libwayland.wl_display_get_protocol_error(int(_ffi.cast("uintptr_t", _pointer(display))),
                                                     ctypes.byref(interface), ctypes.byref(object_id))
    if not interface.value:
        return None
    name = ctypes.cast(interface, ctypes.POINTER(ctypes.c_char_p))[0]  # struct wl_interface starts with its name
    return (name or b"?").decode(errors="replace"), int(code)


def release_destroyed(proxy: Any, events: Iterable[str]) -> None:
    """What a destroyed proxy no longer needs and would keep its owner alive by: the handlers of
    `events` (its owner's bound methods, held by the proxy's dispatcher) and the cffi handle pywayland
    gave libwayland as the proxy's user data (`_handle`, through which the proxy refers to itself).
    Both make reference cycles, which only Python's rare full collections free: with one proxy a frame
    (wlr-screencopy, ext-image-copy-capture), a long stream piled up about 20 bytes a frame until one
    came. Released, proxy and owner go as soon as the owner's owner lets it go."""
    if not proxy.destroyed:
        return
    for event in events:
        proxy.dispatcher[event] = None
    proxy._handle = None  # private: see the module's docstring
