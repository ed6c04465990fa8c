"""An OBS script for the tests and benchmarks, loaded beside obs_plugin/wlcap.py: another script that
keeps OBS's Python interpreter busy. Every `period_ms` it runs pure Python for `busy_ms` (10 ms of
every 16 by default), holding the GIL all that time but for the switches the interpreter forces when
another thread waits for it (sys.getswitchinterval()), as a heavy script would.

`where` (a setting) says on which thread the load runs:
- "timer": an obs.timer_add callback. libobs-scripting runs script timers from its tick callback
  (python_tick, added with obs_add_tick_callback), which OBS's graphics thread calls once per video
  frame, before it renders, firing each due timer at most once: at 60 fps a 16 ms timer fires every
  frame (10 ms of each 16.7), at 30 fps every frame too (10 ms of each 33).
- "thread": a thread the script starts, on its own schedule, as scripts that poll something do.

On load it logs the interpreter's switch interval; on unload, what it ran ("[busy] unloaded: ...
calls, ... ms busy a call"), so a benchmark can check that the load it asked for ran.
"""

from __future__ import annotations

import sys
import threading
import time

import obspython as obs

_where = "timer"
_busy_ms = 10
_period_ms = 16
_calls = 0
_busy_ns = 0
_stop = threading.Event()
_thread: threading.Thread | None = None


def _spin(busy_ms: int) -> None:
    """Pure Python for busy_ms: the interpreter's own loop, giving the GIL up only when another
    thread's request forces it (sys.getswitchinterval())."""
    global _calls, _busy_ns
    started = time.perf_counter_ns()
    end = started + busy_ms * 1_000_000
    total = 0
    while time.perf_counter_ns() < end:
        for k in range(100):
            total += k
    _calls += 1
    _busy_ns += time.perf_counter_ns() - started


def busy_timer() -> None:
    _spin(_busy_ms)


def _busy_thread(busy_ms: int, period_ms: int) -> None:
    period_ns = period_ms * 1_000_000
    next_ns = time.monotonic_ns()
    while not _stop.is_set():
        _spin(busy_ms)
        next_ns += period_ns
        _stop.wait(max(0.0, (next_ns - time.monotonic_ns()) / 1e9))


def script_description() -> str:
    return "Test: keeps OBS's Python busy (pure Python for busy_ms of every period_ms) on a timer or a thread"


def script_defaults(settings: object) -> None:
    obs.obs_data_set_default_string(settings, "where", "timer")
    obs.obs_data_set_default_int(settings, "busy_ms", 10)
    obs.obs_data_set_default_int(settings, "period_ms", 16)


def script_load(settings: object) -> None:
    global _thread, _calls, _busy_ns, _where, _busy_ms, _period_ms
    _where = str(obs.obs_data_get_string(settings, "where"))
    _busy_ms = int(obs.obs_data_get_int(settings, "busy_ms"))
    _period_ms = int(obs.obs_data_get_int(settings, "period_ms"))
    _calls, _busy_ns = 0, 0
    if _where == "thread":
        _stop.clear()
        _thread = threading.Thread(target=_busy_thread, args=(_busy_ms, _period_ms), name="busy-script",
                                   daemon=True)
        _thread.start()
    else:
        obs.timer_add(busy_timer, _period_ms)
    # the interpreter's switch interval, which wlcap shortens while it is loaded (wlcap_obs.plugin)
    obs.script_log(obs.LOG_INFO, f"[busy] loaded: {_busy_ms} ms of every {_period_ms} ms on a {_where}, "
                                 f"switch interval {sys.getswitchinterval() * 1000:g} ms")


def script_unload() -> None:
    global _thread
    obs.timer_remove(busy_timer)
    _stop.set()
    if _thread is not None:
        _thread.join()
        _thread = None
    each = _busy_ns / _calls / 1e6 if _calls else 0.0
    obs.script_log(obs.LOG_INFO, f"[busy] unloaded: {_where}, {_calls} calls, "
                                 f"{each:.2f} ms busy a call")
