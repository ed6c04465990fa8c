"""capture.pacing: when the capture thread asks for the next frame, by OBS's render clock or by a
frame-rate cap (pure arithmetic on given clocks; the OBS tests show the paced stream end to end)."""

from __future__ import annotations

from capture.pacing import LEAD_MARGIN_NS, FramePacer

MS = 1_000_000
PERIOD = 33 * MS  # OBS at ~30 fps


def test_without_a_clock_requests_are_capped_at_max_fps() -> None:
    pacer = FramePacer(max_fps=50)
    assert pacer.due_ns() == 0  # the first request goes out at once
    pacer.requested(100 * MS)
    pacer.delivered(108 * MS)
    assert pacer.due_ns() == 120 * MS


def test_without_a_cap_or_clock_every_request_goes_out_at_once() -> None:
    pacer = FramePacer(max_fps=None)
    pacer.requested(5 * MS)
    pacer.delivered(9 * MS)
    assert pacer.due_ns() == 0


def test_the_next_request_aims_just_before_the_tick_after_the_showing_one() -> None:
    tick = 1000 * MS  # OBS ticked here, then every PERIOD
    pacer = FramePacer(max_fps=30, render_clock=lambda: (tick, PERIOD))
    pacer.requested(tick + 2 * MS)
    pacer.delivered(tick + 12 * MS)  # a 10 ms turnaround; shown at tick + PERIOD
    lead = 10 * MS + LEAD_MARGIN_NS
    assert pacer.due_ns() == tick + 2 * PERIOD - lead
    # Asked at that time, the frame comes back before the tick it aims at: shown there, and the
    # next aims one period later. The phase holds, frame after frame.
    pacer.requested(tick + 2 * PERIOD - lead)
    pacer.delivered(tick + 2 * PERIOD - lead + 10 * MS)
    assert pacer.due_ns() == tick + 3 * PERIOD - lead


def test_the_lead_follows_the_slowest_recent_turnaround_and_ignores_waits_for_change() -> None:
    tick = 1000 * MS
    pacer = FramePacer(max_fps=30, render_clock=lambda: (tick, PERIOD))
    for turnaround in (4 * MS, 15 * MS, 6 * MS):
        pacer.requested(tick)
        pacer.delivered(tick + turnaround)
    pacer.requested(tick)
    pacer.delivered(tick + 5 * PERIOD)  # waited for the screen to change: not a turnaround
    assert pacer.lead_ns(PERIOD) == 15 * MS + LEAD_MARGIN_NS
    # It aimed at no tick (the one before it was late... or, here, had no clock reading to aim
    # by): shown at the next tick, and the next request aims at the tick after that.
    assert pacer.due_ns() == tick + 7 * PERIOD - pacer.lead_ns(PERIOD)


def test_a_frame_late_for_the_render_it_aimed_at_is_followed_by_a_request_at_once() -> None:
    tick = 1000 * MS
    pacer = FramePacer(max_fps=30, render_clock=lambda: (tick, PERIOD))
    pacer.requested(tick)
    pacer.delivered(tick + 5 * MS)
    aimed = tick + 2 * PERIOD  # shown at the next tick; the next request aims at the tick after
    assert pacer.due_ns() == aimed - pacer.lead_ns(PERIOD)
    pacer.requested(pacer.due_ns())
    pacer.delivered(aimed + 3 * MS)  # after its render: slower than the lead said
    assert pacer.due_ns() == 0
    # The request sent at once aimed at nothing: its frame sets the aim again.
    pacer.requested(aimed + 3 * MS)
    pacer.delivered(aimed + 9 * MS)
    assert pacer.due_ns() == aimed + 2 * PERIOD - pacer.lead_ns(PERIOD)


def test_with_no_time_to_aim_a_request_goes_out_as_each_frame_comes_back() -> None:
    tick = 1000 * MS
    pacer = FramePacer(max_fps=60, render_clock=lambda: (tick, 16 * MS))
    pacer.requested(tick)
    pacer.delivered(tick + 15 * MS)  # a 60 Hz compositor for OBS at 60 fps: 15 + 2 ms > 3/4 of 16
    assert pacer.due_ns() == 0


def test_before_obs_ticked_the_cap_applies() -> None:
    pacer = FramePacer(max_fps=30, render_clock=lambda: (0, PERIOD))
    pacer.requested(50 * MS)
    pacer.delivered(55 * MS)
    assert pacer.due_ns() == 50 * MS + int(1e9 / 30)
