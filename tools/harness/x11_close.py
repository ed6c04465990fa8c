"""Ask an X11 window to close, as a window manager's close button does: a WM_DELETE_WINDOW client
message. Qt handles it in its event loop (closeEvent), unlike OBS 29's SIGINT handler, which calls
into Qt from inside the signal handler and can deadlock. Also where a window is, to take a
screenshot of it alone, and moving the pointer out of the way of one."""

from __future__ import annotations

import ctypes
import ctypes.util

_x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
Window = ctypes.c_ulong
Atom = ctypes.c_ulong


class _ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", Window), ("message_type", Atom),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _ClientMessage), ("pad", ctypes.c_long * 24)]


_x11.XOpenDisplay.restype = ctypes.c_void_p
_x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
_x11.XDefaultRootWindow.restype = Window
_x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
_x11.XInternAtom.restype = Atom
_x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
_x11.XQueryTree.argtypes = [ctypes.c_void_p, Window, ctypes.POINTER(Window), ctypes.POINTER(Window),
                            ctypes.POINTER(ctypes.POINTER(Window)), ctypes.POINTER(ctypes.c_uint)]
_x11.XFetchName.argtypes = [ctypes.c_void_p, Window, ctypes.POINTER(ctypes.c_char_p)]
_x11.XSendEvent.argtypes = [ctypes.c_void_p, Window, ctypes.c_int, ctypes.c_long, ctypes.POINTER(_XEvent)]
_x11.XFree.argtypes = [ctypes.c_void_p]
_x11.XTranslateCoordinates.argtypes = [ctypes.c_void_p, Window, Window, ctypes.c_int, ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int),
                                       ctypes.POINTER(Window)]
_x11.XWarpPointer.argtypes = [ctypes.c_void_p, Window, Window, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                             ctypes.c_uint, ctypes.c_int, ctypes.c_int]
_x11.XGetGeometry.argtypes = [ctypes.c_void_p, Window, ctypes.POINTER(Window), ctypes.POINTER(ctypes.c_int),
                              ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_uint),
                              ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_uint),
                              ctypes.POINTER(ctypes.c_uint)]
_x11.XFlush.argtypes = [ctypes.c_void_p]
_x11.XCloseDisplay.argtypes = [ctypes.c_void_p]

_x11.XSetErrorHandler.argtypes = [ctypes.c_void_p]
_x11.XSetErrorHandler.restype = ctypes.c_void_p

CLIENT_MESSAGE = 33

# A window may go while it is looked at (OBS closing a dialog); Xlib's default error handler would
# then end the whole process. Errors are ignored instead: such a window is simply not found.
_IGNORE_X_ERROR = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(lambda display, event: 0)
_x11.XSetErrorHandler(ctypes.cast(_IGNORE_X_ERROR, ctypes.c_void_p))


def _top_level_windows(display: int, root: int) -> list[tuple[int, str]]:
    root_out, parent = Window(), Window()
    children = ctypes.POINTER(Window)()
    count = ctypes.c_uint()
    if not _x11.XQueryTree(display, root, ctypes.byref(root_out), ctypes.byref(parent), ctypes.byref(children),
                           ctypes.byref(count)):
        return []
    windows = []
    for i in range(count.value):
        name = ctypes.c_char_p()
        if _x11.XFetchName(display, children[i], ctypes.byref(name)) and name.value:
            windows.append((int(children[i]), name.value.decode(errors="replace")))
            _x11.XFree(name)
    if children:
        _x11.XFree(children)
    return windows


def close_windows(display_name: str, title_prefix: str) -> int:
    """Send WM_DELETE_WINDOW to every top-level window whose title starts with title_prefix;
    returns how many were asked."""
    display = _x11.XOpenDisplay(display_name.encode())
    if not display:
        raise OSError(f"cannot open X display {display_name}")
    try:
        protocols = _x11.XInternAtom(display, b"WM_PROTOCOLS", 0)
        delete = _x11.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
        asked = 0
        for window, title in _top_level_windows(display, _x11.XDefaultRootWindow(display)):
            if not title.startswith(title_prefix):
                continue
            event = _XEvent()
            event.xclient.type = CLIENT_MESSAGE
            event.xclient.window = window
            event.xclient.message_type = protocols
            event.xclient.format = 32
            event.xclient.data[0] = delete
            _x11.XSendEvent(display, window, 0, 0, ctypes.byref(event))
            asked += 1
        _x11.XFlush(display)
        return asked
    finally:
        _x11.XCloseDisplay(display)


def window_geometry(display_name: str, title_prefix: str) -> tuple[int, int, int, int] | None:
    """(x, y, width, height) on the screen of the first top-level window whose title starts with
    title_prefix; None when there is none."""
    display = _x11.XOpenDisplay(display_name.encode())
    if not display:
        raise OSError(f"cannot open X display {display_name}")
    try:
        root = _x11.XDefaultRootWindow(display)
        for window, title in _top_level_windows(display, root):
            if not title.startswith(title_prefix):
                continue
            geometry_root, child = Window(), Window()
            x, y, screen_x, screen_y = (ctypes.c_int() for _ in range(4))
            width, height, border, depth = (ctypes.c_uint() for _ in range(4))
            _x11.XGetGeometry(display, window, ctypes.byref(geometry_root), ctypes.byref(x), ctypes.byref(y),
                              ctypes.byref(width), ctypes.byref(height), ctypes.byref(border), ctypes.byref(depth))
            _x11.XTranslateCoordinates(display, window, root, 0, 0, ctypes.byref(screen_x), ctypes.byref(screen_y),
                                       ctypes.byref(child))
            return screen_x.value, screen_y.value, width.value, height.value
        return None
    finally:
        _x11.XCloseDisplay(display)


def move_pointer(display_name: str, x: int, y: int) -> None:
    """Put the pointer at (x, y) of the screen (a widget under it is drawn hovered)."""
    display = _x11.XOpenDisplay(display_name.encode())
    if not display:
        raise OSError(f"cannot open X display {display_name}")
    try:
        _x11.XWarpPointer(display, 0, _x11.XDefaultRootWindow(display), 0, 0, 0, 0, x, y)
        _x11.XFlush(display)
    finally:
        _x11.XCloseDisplay(display)
