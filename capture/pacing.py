"""When the capture thread asks the compositor for the next frame.

Without a consumer's clock (the CLI, a library user), at most `max_fps` requests a second. With one
(the OBS source: OBS's last video tick and its frame period), in step with it: the next request goes
out `lead` before the tick after the one that will show the frame just delivered, so that the copy
lands just before OBS renders, at most one capture per OBS frame. A timer at OBS's fps that ignores
OBS's phase delivers some frames just after a render, where they wait a whole frame.

`lead` is what a request has recently taken to come back as a frame (the compositor's wait for its
next repaint, and the copy), from the slowest of the last few, plus a margin; requests that waited
longer than a frame period waited for the screen to change, and say nothing of the copy. Where the
lead would take more than ¾ of a frame (a compositor that repaints no faster than OBS renders, or a
busy machine) there is no time to aim: a request goes out as soon as each frame is back, as does one
after a frame that came back too late for the render it aimed at. A slow turnaround then costs
freshness, not frames.
"""

from __future__ import annotations

import collections
from collections.abc import Callable

# The consumer's last render tick (CLOCK_MONOTONIC ns; 0 before the first) and its period (ns; 0 unknown).
RenderClock = Callable[[], tuple[int, int]]

LEAD_SAMPLES = 16
LEAD_MARGIN_NS = 2_000_000
MAX_LEAD_SHARE = 0.75  # of the period: beyond it, aiming at a render would cost frames


class FramePacer:
    def __init__(self, max_fps: float | None, render_clock: RenderClock | None = None) -> None:
        self._interval_ns = int(1e9 / max_fps) if max_fps else 0
        self._clock = render_clock
        self._requested_ns = 0
        self._due_ns = 0  # 0: now
        self._aimed_ns = 0  # the render tick the next request aims at (0: none)
        self._aiming_ns = 0  # the one the request in flight aims at
        self._turnarounds: collections.deque[int] = collections.deque(maxlen=LEAD_SAMPLES)

    def due_ns(self) -> int:
        """CLOCK_MONOTONIC ns at which the next request may go out (0: at once)."""
        return self._due_ns

    def requested(self, now_ns: int) -> None:
        self._requested_ns = now_ns
        self._aiming_ns, self._aimed_ns = self._aimed_ns, 0
        if self._interval_ns:
            self._due_ns = now_ns + self._interval_ns  # until a frame comes back and says more

    def delivered(self, now_ns: int) -> None:
        """A frame asked for at the last `requested` came back now."""
        tick_ns, period_ns = self._clock() if self._clock else (0, 0)
        if not tick_ns or not period_ns:
            return  # no clock (yet): `requested` set the interval
        turnaround = now_ns - self._requested_ns
        if 0 <= turnaround < period_ns:  # else it waited for the screen to change: no measure of the copy
            self._turnarounds.append(turnaround)
            if self._aiming_ns and now_ns > self._aiming_ns:  # too late for its render: the next at once
                self._due_ns = 0
                return
        lead = self.lead_ns(period_ns)
        if lead > period_ns * MAX_LEAD_SHARE:  # no time to aim: keep a request in flight
            self._due_ns = 0
            return
        # The first tick after now shows this frame; the next request aims at the tick after it.
        showing_tick = tick_ns + ((now_ns - tick_ns) // period_ns + 1) * period_ns
        self._aimed_ns = showing_tick + period_ns
        self._due_ns = self._aimed_ns - lead

    def lead_ns(self, period_ns: int) -> int:
        """How long before a render tick a request must go out: the slowest recent turnaround, plus a margin."""
        return max(self._turnarounds, default=period_ns // 2) + LEAD_MARGIN_NS
