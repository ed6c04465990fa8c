"""Explicit sync in OBS 32 over real DMA-BUFs, proven with genuinely pending fences (vgem).

The compositor here (sway on llvmpipe) never leaves a pending fence, so the tests put one where a GPU
compositor's unfinished copy would be: a vgem fence, imported as a write into OBS's pool buffers
(reached through pidfd_getfd: nothing in OBS's process is there for the tests). What OBS shows, and
what a writer into the buffers has to wait for, says whether the ordering holds.

llvmpipe facts these tests rest on (probed in this guest): eglWaitSyncKHR on a pending fence holds the
calling thread until it signals (a software GPU "waits" on the CPU it runs on; a hardware driver
queues the wait on the GPU), and its own native fences are created already signalled.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from fences import PendingFence, dmabufs_of, drm_card, export_sync_file, is_signalled, writers_blocked
from harness.obs_guest import (
    COLOUR,
    HEIGHT,
    TOLERANCE,
    WIDTH,
    drive_frames,
    keep_log,
    set_background,
    start_obs,
    wait_for_colour,
    wait_for_status,
    worst_difference,
)
from harness.obshost import bgra_pixel

from capture.buffers.formats import fourcc
from capture.buffers.native import GbmDevice, dmabuf_sync

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")

NEXT_COLOUR = (30, 170, 90)
PENDING_SECONDS = 4  # vgem signals a forgotten fence by itself after 10 s


def stats_when(host, name: str, above: int, timeout: float) -> dict:  # type: ignore[no-untyped-def,type-arg]
    deadline = time.monotonic() + timeout
    while (stats := host.ok("stats", "cap"))[name] <= above and time.monotonic() < deadline:
        time.sleep(0.2)
    return stats


def hold_new_frames(host, buffers, fence: PendingFence) -> tuple[dict, bytes, int]:  # type: ignore[no-untyped-def,type-arg]
    """Make every pool buffer's next write look unfinished, show a new colour, and return what OBS
    had (stats, its newest output frame, output frames so far) after PENDING_SECONDS."""
    for buffer in buffers:
        fence.attach_as_write(buffer.fd)
    attached = time.monotonic()
    set_background(NEXT_COLOUR)
    stats = stats_when(host, "frames_published", host.ok("stats", "cap")["frames_published"] + 1,
                       timeout=PENDING_SECONDS)
    time.sleep(max(0.0, attached + PENDING_SECONDS - time.monotonic()))
    frame, seen = host.peek()
    return stats, frame, seen


def test_gpu_waits_for_a_pending_acquire_fence(obs_host_binary: Path, guest_baseline_leaks: int) -> None:
    host = start_obs(obs_host_binary)
    try:
        status = wait_for_status(host, "explicit sync")
        assert "explicit sync (EGL native fences)" in status, status
        assert wait_for_colour(host) <= TOLERANCE
        buffers = dmabufs_of(host.process.pid, WIDTH * HEIGHT * 4)
        assert 2 <= len(buffers) <= 4, buffers  # the pool, nothing else of that size
        before = host.ok("stats", "cap")
        with PendingFence() as fence:
            during, frame, seen_during = hold_new_frames(host, buffers, fence)
            assert not fence.signalled
            fence.signal()
        shown = wait_for_colour(host, NEXT_COLOUR)
        after = host.ok("stats", "cap")
        _, seen_after = host.peek()
        print(f"pending: published {during['frames_published'] - before['frames_published']} new frames, "
              f"OBS output frames {seen_during}; after the signal {seen_after}; stats after {after}")
        for buffer in buffers:
            os.close(buffer.fd)
        # The compositor's copies of the new colour arrived and were handed to OBS...
        assert during["frames_published"] > before["frames_published"]
        # ...but OBS drew none of them while the copy counted as in flight...
        assert worst_difference(frame, COLOUR) <= TOLERANCE
        # ...and drew the new colour once it signalled, having waited on the GPU side.
        assert shown <= TOLERANCE
        assert after["acquire_waits"] > before["acquire_waits"]
        assert after["releases_implicit"] == 0 and after["dmabuf_import_failures"] == 0
        assert "Traceback" not in host.log()
        assert host.quit() == guest_baseline_leaks
    finally:
        keep_log(host, "obs-fence-acquire.log")
        host.cleanup()


def test_without_explicit_sync_the_pending_write_is_not_waited_for(obs_host_binary: Path,
                                                                    guest_baseline_leaks: int) -> None:
    # The control for the test above: the same pending fence with explicit sync turned off. Nothing
    # orders OBS's read after the write then, and OBS shows a buffer whose write counts as unfinished
    # instead of the last finished frame (on llvmpipe it came out black).
    host = start_obs(obs_host_binary, WLCAP_EXPLICIT_SYNC="0")
    try:
        status = wait_for_status(host, "implicit sync")
        assert "implicit sync (turned off by WLCAP_EXPLICIT_SYNC=0)" in status, status
        assert wait_for_colour(host) <= TOLERANCE
        buffers = dmabufs_of(host.process.pid, WIDTH * HEIGHT * 4)
        with PendingFence() as fence:
            _, frame, _ = hold_new_frames(host, buffers, fence)
            assert not fence.signalled
        for buffer in buffers:
            os.close(buffer.fd)
        stats = host.ok("stats", "cap")
        log = host.log()
        print("OBS showed", bgra_pixel(frame, WIDTH, WIDTH // 2, HEIGHT // 2), "while the write was pending")
        assert worst_difference(frame, COLOUR) > TOLERANCE  # not the last finished frame
        assert stats["acquire_waits"] == stats["acquire_signalled"] == stats["release_fences"] == 0
        assert stats["releases_implicit"] > 0
        assert log.count("explicit sync unavailable (turned off by WLCAP_EXPLICIT_SYNC=0)") == 1
        assert host.quit() == guest_baseline_leaks
    finally:
        keep_log(host, "obs-fence-control.log")
        host.cleanup()


def test_a_release_fence_holds_the_next_write_until_it_signals() -> None:
    """OBS's release step (wlcap_attach_read_fence, the code its render thread runs for each returned
    buffer) on a pool buffer of the kind wlcap allocates, with a fence that is genuinely pending:
    llvmpipe's own read fences never are, so the vgem fence stands for OBS's unfinished read."""
    from wlcap_obs._native import ffi, lib  # the shim OBS loads; its other parts need OBS running

    gbm = GbmDevice(drm_card("virtio_gpu"))
    memory = gbm.allocate(256, 256, fourcc("XR24"), (0,))
    plane = memory.planes[0].fd
    try:
        with PendingFence() as fence:
            assert lib.wlcap_attach_read_fence(ffi.new("int[]", [plane]), 1, fence.sync_file) == 0
            assert writers_blocked(plane)
            reader_fences = export_sync_file(plane, 1)  # DMA_BUF_SYNC_READ: what a reader waits for
            assert is_signalled(reader_fences)  # other readers are not held up by a read
            os.close(reader_fences)
            finished = threading.Event()

            def write_through_the_kernel() -> None:
                dmabuf_sync(plane, start=True, read=False, write=True)  # what a CPU writer waits on
                finished.set()
                dmabuf_sync(plane, start=False, read=False, write=True)

            writer = threading.Thread(target=write_through_the_kernel)
            writer.start()
            assert not finished.wait(1.0)  # held while the read is in flight
            fence.signal()
            assert finished.wait(5.0)  # and let go once it is done
            writer.join()
        assert not writers_blocked(plane)
    finally:
        memory.close()
        gbm.close()


def process_sample(host) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    """(frames published, OBS's threads, its resident memory in KB, wlcap's DMA-BUF imports so far)."""
    stats = host.ok("stats", "cap")
    pid = host.process.pid
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    return stats["frames_published"], len(os.listdir(f"/proc/{pid}/task")), rss, stats["dmabuf_imports"]


def open_fds(pid: int) -> dict[str, str]:
    """OBS's open fds (number -> what they are), at the quietest of several looks over 5 s: the script's
    output-list refresh holds a Wayland connection open for a moment every 2 s, and under TCG a moment
    can last a second or more."""
    looks = []
    for _ in range(16):
        fds = {}
        for name in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(FileNotFoundError):  # closed while listed
                fds[name] = os.readlink(f"/proc/{pid}/fd/{name}")
        looks.append(fds)
        time.sleep(0.3)
    return min(looks, key=len)


def test_long_run_with_fences(obs_host_binary: Path, guest_baseline_leaks: int) -> None:
    host = start_obs(obs_host_binary)
    try:
        wait_for_status(host, "explicit sync")
        assert wait_for_colour(host) <= TOLERANCE
        # Each pooled buffer is imported (and its dmabuf fd held by the driver) the first time it comes
        # round: counted from then on, fds must stay flat.
        drive_frames(host, lambda stats: stats["dmabuf_imports"] >= 3)
        start = host.ok("stats", "cap")
        fds_at_start = open_fds(host.process.pid)
        started = time.monotonic()
        changes = 0
        # Under TCG the guest captures and renders about one frame a second: CI runs a minute; set
        # WLCAP_LONG_RUN_SECONDS for a longer run (figures in the closing note of issue 5).
        # Sampled along the way: OBS's threads, resident memory and the textures wlcap imported.
        samples = [process_sample(host)]
        while time.monotonic() - started < float(os.environ.get("WLCAP_LONG_RUN_SECONDS", "60")):
            # A changing screen, so that every frame is a new copy (and some go unsampled).
            set_background(NEXT_COLOUR if changes % 2 else COLOUR)
            changes += 1
            time.sleep(1.0)
            if changes % 15 == 0:
                samples.append(process_sample(host))
        stats = host.ok("stats", "cap")
        samples.append(process_sample(host))
        print("samples (frames published, threads, rss KB, DMA-BUF imports):", samples)
        assert {threads for _, threads, _, _ in samples} == {samples[0][1]}, samples
        # Each pooled buffer is imported once: no texture is made per frame however long it runs.
        assert {imports for _, _, _, imports in samples} == {samples[0][3]}, samples
        fds_at_end = open_fds(host.process.pid)
        buffers = dmabufs_of(host.process.pid, WIDTH * HEIGHT * 4)
        blocked = [writers_blocked(b.fd) for b in buffers]
        for buffer in buffers:
            os.close(buffer.fd)
        host.ok("hide", "cap")
        wait_for_status(host, "hidden")
        final = host.ok("stats", "cap")
        published = stats["frames_published"] - start["frames_published"]
        shown = stats["frames_shown"] - start["frames_shown"]
        print(f"{time.monotonic() - started:.0f} s: {published} frames published, {shown} shown; "
              f"fds {len(fds_at_start)} -> {len(fds_at_end)}; final {final}")
        assert published >= 20 and shown >= 10
        grew = Counter(fds_at_end.values()) - Counter(fds_at_start.values())  # by what they point at
        assert len(fds_at_end) == len(fds_at_start), f"fds grew: {dict(grew)}"
        assert not any(blocked)  # no release left pending: nothing for the next write to wait on
        # Every frame came back exactly once; each one OBS read came back with its read fence.
        assert final["frames_returned"] == final["frames_published"]
        assert final["release_fences"] + final["releases_at_stop"] == final["frames_shown"]
        assert final["releases_unsampled"] == final["frames_published"] - final["frames_shown"]
        assert final["acquire_waits"] + final["acquire_signalled"] == final["frames_shown"]
        assert final["releases_implicit"] == final["releases_copied"] == 0
        assert host.quit() == guest_baseline_leaks
    finally:
        keep_log(host, "obs-fence-long-run.log")
        host.cleanup()
