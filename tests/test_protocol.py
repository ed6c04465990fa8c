"""Protocol choice on the host: sway 1.7 has no ext-image-copy-capture-v1, so `auto` falls back to
wlr-screencopy and says why, and anything that needs ext fails with one clear line."""

from __future__ import annotations

import json

from conftest import run_cli
from harness.compositor import SwayHeadless
from test_errors import assert_clean_failure

from capture.buffers.damage import MAX_RECTS, DamageTracker, bounding_box
from capture.buffers.formats import fourcc
from capture.protocol.ext_image_copy import ExtConstraints

FALLBACK = "fallback: ext_image_copy_capture_manager_v1, ext_output_image_capture_source_manager_v1 not offered"


def test_auto_falls_back_to_wlr_screencopy_and_reports_it(sway: SwayHeadless) -> None:
    result = run_cli("stream", "--frames", "3", "--json", env=sway.env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["protocol"], report["protocol_reason"]) == ("wlr-screencopy-unstable-v1", FALLBACK)
    assert report["frames_captured"] >= 3
    result = run_cli("stream", "--frames", "1", "--json", "--protocol", "wlr", env=sway.env)
    assert (json.loads(result.stdout)["protocol_reason"]) == "requested"


def test_what_needs_ext_fails_clearly_without_it(sway: SwayHeadless) -> None:
    assert_clean_failure(run_cli("stream", "--frames", "1", "--protocol", "ext", env=sway.env),
                         "doesn't support ext_image_copy_capture_manager_v1, "
                         "ext_output_image_capture_source_manager_v1 (needed for output capture")
    assert_clean_failure(run_cli("windows", env=sway.env),
                         "doesn't support ext_foreign_toplevel_list_v1 (needed to list and capture windows)")
    assert_clean_failure(run_cli("screenshot", "--window", "foot", env=sway.env),
                         "ext_foreign_toplevel_image_capture_source_manager_v1 (needed for window capture")
    assert_clean_failure(run_cli("screenshot", "--window", "foot", "--protocol", "wlr", env=sway.env),
                         "window capture needs ext-image-copy-capture-v1")


def test_ext_constraints_pick_a_common_format_and_the_offered_modifiers() -> None:
    xr24, ar24, xb24 = fourcc("XR24"), fourcc("AR24"), fourcc("XB24")
    constraints = ExtConstraints(64, 32, (ar24, xr24), None, {xb24: (0,), ar24: (0, 7)})
    shm = constraints.shm_spec
    assert shm is not None and (shm.format, shm.stride, shm.width, shm.height) == (xr24, 256, 64, 32)
    assert [(s.format, s.modifiers) for s in constraints.dmabuf_specs] == [(ar24, (0, 7)), (xb24, (0,))]
    assert ExtConstraints(8, 8, (fourcc("NV12"),), None).shm_spec is None  # a format wlcap cannot lay out
    assert ExtConstraints(8, 8, (xr24,), None).dmabuf_specs == []


def test_a_source_rendered_at_ten_bits_is_captured_at_ten_bits() -> None:
    """wlroots offers shm in the format it reads the source in: 10 bits for a 10-bit output. DMA-BUF
    formats then come deepest first, so that a blit into an 8-bit buffer does not throw bits away."""
    xr24, xb30, xr30 = fourcc("XR24"), fourcc("XB30"), fourcc("XR30")
    constraints = ExtConstraints(64, 32, (xb30,), None, {xr24: (0,), xr30: (0,), xb30: (0,)})
    assert constraints.depth == 10
    shm = constraints.shm_spec
    assert shm is not None and (shm.format, shm.stride) == (xb30, 256)
    assert [s.format for s in constraints.dmabuf_specs] == [xr30, xb30, xr24]
    assert ExtConstraints(64, 32, (xr24,), None, {xr24: (0,), xr30: (0,)}).dmabuf_specs[0].format == xr24


def test_damage_tracker_refreshes_each_buffer_with_what_it_missed() -> None:
    tracker = DamageTracker()
    assert tracker.damage_for(1, 100, 50) == [(0, 0, 100, 50)]  # never filled: all of it
    tracker.filled(1, [(0, 0, 100, 50)])
    tracker.filled(2, [(10, 10, 5, 5)])
    tracker.filled(3, [(20, 20, 5, 5)])
    assert tracker.damage_for(1, 100, 50) == [(10, 10, 5, 5), (20, 20, 5, 5)]
    assert tracker.damage_for(2, 100, 50) == [(20, 20, 5, 5)]
    assert tracker.damage_for(3, 100, 50) == []
    tracker.filled(1, [(95, 45, 10, 10)])  # clipped to the buffer
    assert tracker.damage_for(2, 100, 50) == [(20, 20, 5, 5), (95, 45, 5, 5)]
    for i in range(20):  # many small rectangles collapse into their bounding box
        tracker.filled(1, [(i, i, 1, 1)])
    missed = tracker.damage_for(3, 100, 50)
    assert len(missed) <= MAX_RECTS
    assert bounding_box(missed) == (0, 0, 100, 50)  # with (95, 45, 5, 5) from before
    assert all(any(x >= bx and y >= by and x + 1 <= bx + bw and y + 1 <= by + bh for bx, by, bw, bh in missed)
               for x, y in ((i, i) for i in range(20)))
    tracker.forget(2)
    assert tracker.damage_for(2, 100, 50) == [(0, 0, 100, 50)]


def test_obs_status_reports_the_fallback(sway: SwayHeadless, obs_factory) -> None:  # type: ignore[no-untyped-def]
    from test_obs import SCRIPT, settings, wait_for

    host = obs_factory(sway.env)
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", settings(output="HEADLESS-1", backend="shm"))
    props = wait_for(host, "cap", lambda p: "fps" in p["status"])
    assert props["status"].endswith(f"wlr-screencopy-unstable-v1 ({FALLBACK})"), props["status"]
    # The cursor is shown by default, drawn by OBS from a cursor session wlr-screencopy lacks: it is
    # painted into the frames instead, and the status says why; hidden, it is left out.
    assert "cursor painted into frames: a separate cursor needs ext-image-copy-capture-v1" in props["status"]
    host.ok("update", "cap", settings(output="HEADLESS-1", backend="shm", cursor=False))
    props = wait_for(host, "cap", lambda p: "cursor left out of frames" in p["status"])
    assert props["windows"] == []  # sway 1.7 lists no windows (no ext-foreign-toplevel-list)
    host.ok("update", "cap", settings(output="HEADLESS-1", backend="shm", target="window", window="foot"))
    props = wait_for(host, "cap", lambda p: "error" in p["status"])
    assert props["status"] == ("Status: error: compositor doesn't support ext_image_copy_capture_manager_v1, "
                               "ext_foreign_toplevel_image_capture_source_manager_v1 (needed for window capture "
                               "with ext-image-copy-capture-v1)"), props["status"]
    assert props["windows"] == ["foot"]  # remembered, shown as not open
    assert "Traceback" not in host.log()
    assert host.quit() == 0
