"""The script's side of wlcap in OBS: the registry of live sources, the thread that handles their
events in order, the watchdog, and the output and window listing; loaded and unloaded with the script."""

from __future__ import annotations

import math
import sys
import threading

from . import native
from .controller import SourceController
from .listing import Listing
from .settings import SourceSettings

# How often the watchdog refreshes the status lines; a stream that ends wakes it at once.
STATUS_SECONDS = 1.0
# How long a thread that wants the GIL waits before the thread running Python must give it up
# (sys.setswitchinterval; Python's default is 5 ms). A capture thread takes the GIL back after every
# C call it makes (the wait on the Wayland fd, each libwayland request and event, the hand-over to
# C): about 25 times a frame. While another script runs pure Python, each of those may wait the whole
# interval. With a script busy 10 ms of every 16, OBS showed 91-98 % of the paints it could have shown
# at 5 ms, 95-99 % at 0.5 ms: as under the same load from another process, 97-99 % (99 % with no load;
# tools/bench/other_scripts_bench.py, README). The interval only matters while a thread waits: it costs
# nothing otherwise, a few microseconds a switch then.
SWITCH_INTERVAL_S = 0.0005

_controllers: dict[int, SourceController] = {}
_threads: list[threading.Thread] = []
_stop_threads = threading.Event()
_attention = threading.Event()  # a stream ended: the watchdog should look now
_listing: Listing | None = None
_switch_interval_before: float | None = None  # what load() found, when it shortened it


def controllers() -> list[SourceController]:
    return list(_controllers.values())


def _new_controller(handle: native.SourceHandle, settings_json: str | None) -> SourceController:
    return SourceController(handle, SourceSettings.from_json(settings_json), on_attention=_attention.set)


def _handle_event(event: native.SourceEvent) -> None:
    key = event.handle.key
    if event.event == native.EVENT_CREATE:
        if key not in _controllers:  # else adopted by load() already
            _controllers[key] = _new_controller(event.handle, event.settings_json)
        return
    controller = _controllers.get(key)
    if controller is None:
        return
    if event.event == native.EVENT_UPDATE:
        controller.update(SourceSettings.from_json(event.settings_json))
    elif event.event == native.EVENT_SHOW:
        controller.show()
    elif event.event == native.EVENT_HIDE:
        controller.hide()
    elif event.event == native.EVENT_DESTROY:
        del _controllers[key]
        controller.destroy()


def _dispatch_loop() -> None:
    """Handle source events in order on this one Python thread (see wlcap_next_event in C)."""
    while not _stop_threads.is_set():
        event = native.next_event(200)
        if event is None:
            continue
        try:
            _handle_event(event)
        except Exception as exc:  # never lose the event loop to a bug
            native.log(native.LOG_ERROR, f"source event {event.event} failed: {exc!r}")
        finally:
            native.event_done(event)


def _watch_loop() -> None:
    while not _stop_threads.is_set():
        _attention.wait(STATUS_SECONDS)
        _attention.clear()
        if _stop_threads.is_set():
            return
        for controller in controllers():
            try:
                controller.watch()
            except Exception as exc:  # a bug must not kill the watchdog
                native.log(native.LOG_ERROR, f"watchdog: {exc!r}")


def load() -> None:
    """script_load: register (or re-enable) the source type, follow outputs and windows, adopt sources
    that already exist (created before a script reload, or loaded from the scene collection), start
    the threads."""
    global _listing, _switch_interval_before
    native.register()
    _listing = Listing()
    _listing.start()
    for handle, settings_json, show_count in native.live_sources():
        if handle.key in _controllers:
            continue
        controller = _new_controller(handle, settings_json)
        _controllers[handle.key] = controller
        for _ in range(show_count):
            controller.show()
    _stop_threads.clear()
    for target, name in ((_dispatch_loop, "wlcap-events"), (_watch_loop, "wlcap-watchdog")):
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        _threads.append(thread)
    # Last: a load that raised never reaches script_unload (wlcap.py keeps no plugin then), which would
    # leave every script in OBS with the short interval.
    if sys.getswitchinterval() > SWITCH_INTERVAL_S:  # never lengthen what another script shortened
        _switch_interval_before = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)


def unload() -> None:
    """script_unload: stop the threads and every capture, forget every source, and disable the
    type (libobs cannot unregister it), and put back the switch interval. Until the next load C
    queues nothing for Python."""
    global _listing, _switch_interval_before
    _stop_threads.set()
    _attention.set()
    for thread in _threads:
        thread.join()
    _threads.clear()
    if _listing is not None:
        _listing.stop()
        _listing = None
    for controller in controllers():
        controller.detach()
    _controllers.clear()
    native.unregister()
    if _switch_interval_before is not None and math.isclose(sys.getswitchinterval(), SWITCH_INTERVAL_S):
        sys.setswitchinterval(_switch_interval_before)  # unless another script has set its own since
    _switch_interval_before = None


__all__ = ["SourceController", "SourceSettings", "controllers", "load", "unload"]
