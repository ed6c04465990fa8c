"""The outputs and windows the properties dialog offers, kept current from one long-lived connection.

One thread holds a Wayland connection for as long as the script is loaded and hears of outputs and
windows as the compositor announces them (registry and ext-foreign-toplevel-list events): no
connection per refresh, no polling. When the compositor is absent or goes away, it connects again
every RETRY_SECONDS and the lists are empty meanwhile.
"""

from __future__ import annotations

import threading

from capture import Connection, WlcapError
from capture.wayland.toplevels import ToplevelList

from . import native

RETRY_SECONDS = 2.0
FIRST_LIST_SECONDS = 2.0


class Listing:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._connection: Connection | None = None
        self._lock = threading.Lock()  # `stop` (OBS's thread) against the connection's thread
        self._published: tuple[str, str] | None = None
        self._first_published = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wlcap-listing", daemon=True)

    def start(self, wait: float = FIRST_LIST_SECONDS) -> None:
        """Start following; wait up to `wait` seconds for the first lists, so that a properties dialog
        opened right after loading already offers them."""
        self._thread.start()
        self._first_published.wait(wait)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._connection is not None:
                self._connection.wake()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()
            except WlcapError:
                pass  # no compositor, or it went away: the lists are empty until it is back
            except Exception as exc:  # a bug must not end the listing for good
                native.log(native.LOG_ERROR, f"output and window listing: {exc!r}")
            self._publish([], [])
            self._stop.wait(RETRY_SECONDS)

    def _follow(self) -> None:
        connection = Connection()
        with self._lock:
            self._connection = connection
        toplevels: ToplevelList | None = None
        try:
            try:
                toplevels = ToplevelList(connection)
            except WlcapError:  # no ext-foreign-toplevel-list: no windows to offer
                toplevels = None
            changed = threading.Event()
            changed.set()
            connection.outputs.on_changed(changed.set)
            if toplevels is not None:
                toplevels.on_changed(changed.set)
            while not self._stop.is_set():
                if changed.is_set():
                    changed.clear()
                    self._publish_from(connection, toplevels)
                connection.pump(None)
        finally:
            with self._lock:
                self._connection = None
            if toplevels is not None:
                toplevels.destroy()
            connection.close()

    def _publish_from(self, connection: Connection, toplevels: ToplevelList | None) -> None:
        outputs = [(o.name, o.info().description or o.name) for o in connection.outputs.all()]
        windows = [(t.app_id or t.title, t.info().label) for t in toplevels.all()] if toplevels else []
        self._publish(outputs, windows)

    def _publish(self, outputs: list[tuple[str, str]], windows: list[tuple[str, str]]) -> None:
        lines = ("".join(f"{value}\t{label}\n" for value, label in outputs),
                 "".join(f"{value}\t{label}\n" for value, label in windows))
        if lines != self._published:
            self._published = lines
            native.set_output_list(lines[0])
            native.set_window_list(lines[1])
        self._first_published.set()
