"""DMA-BUF capture for real: run inside the QEMU guest tier (tests/vm/run-wlcap-tests.sh), where
sway 1.12 renders with GLES2 on the virtio-gpu card and offers linux_dmabuf for screencopy."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
from fences import PendingFence
from harness.obs_guest import settled_pixels, swaymsg

from capture import Backend, CaptureOptions, CaptureProtocol, Connection, FrameStream, capture_one
from capture.buffers.dmabuf import read_finished_dmabuf
from capture.buffers.formats import DRM_FORMAT_MOD_LINEAR
from capture.buffers.spec import BufferKind
from capture.errors import BackendUnavailableError
from capture.image import to_rgb
from capture.screenshot import screenshot_options

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")


def capture_rgb(backend: Backend) -> tuple[bytes, BufferKind, int]:
    with Connection() as connection:
        session, frame = capture_one(connection, CaptureOptions(backend=backend), timeout=30)
        try:
            image = to_rgb(settled_pixels(frame), frame.width, frame.height, frame.stride, frame.format,
                           frame.y_invert, frame.transform)
            modifier = getattr(frame.buffer, "modifier", -1)
            return image.pixels, frame.kind, modifier
        finally:
            frame.release()
            session.close()


def shown_over_shm(colour: tuple[int, int, int], timeout: float = 30) -> bytes:
    """The screen over shm once it shows `colour` at its first pixel: sway paints a new background a
    little after `swaymsg` returns (a capture at once has seen the old one)."""
    deadline = time.monotonic() + timeout
    while True:
        pixels, _kind, _modifier = capture_rgb(Backend.SHM)
        if tuple(pixels[:3]) == colour or time.monotonic() > deadline:
            return pixels
        time.sleep(0.2)


def test_dmabuf_stream_reuses_a_pool_allocated_on_the_compositors_device() -> None:
    # wlr-screencopy copies every frame; ext would wait for damage on this static screen.
    with FrameStream(CaptureOptions(backend=Backend.DMABUF, protocol=CaptureProtocol.WLR)) as stream:
        buffer_ids, modifiers = set(), set()
        for _ in range(120):
            frame = stream.get_frame(timeout=30)
            assert frame is not None
            assert frame.kind is BufferKind.DMABUF
            buffer_ids.add(frame.buffer.id)
            modifiers.add(frame.buffer.modifier)  # type: ignore[attr-defined]
            frame.release()
        stats = stream.stats()
        allocator = stream.session.buffers.dmabuf_allocator  # type: ignore[attr-defined]
        assert allocator is not None
        device = allocator.device.path
        offered = allocator.modifiers_for(stream.session.pool.spec.format)  # type: ignore[union-attr]
    assert stats.backend == "dmabuf"
    assert stats.buffers_allocated == 3 and stats.reallocations == 0
    assert len(buffer_ids) == 3  # the same three buffers, 0 allocations per frame after warm-up
    assert device.startswith("/dev/dri/")
    assert modifiers <= set(offered) or not offered
    print(f"dmabuf on {device}: modifiers {sorted(modifiers)} of offered {sorted(offered)}")


@pytest.mark.parametrize("colour", [(255, 128, 0), (18, 52, 86)])
def test_dmabuf_pixels_match_the_compositor(colour: tuple[int, int, int]) -> None:
    swaymsg("output", "*", "bg", "#{:02x}{:02x}{:02x}".format(*colour), "solid_color")
    deadline = time.monotonic() + 30
    while True:
        # llvmpipe attaches no fence: the copy can land a little after `ready`; wait for it.
        shm, shm_kind, _ = capture_rgb(Backend.SHM)
        dmabuf, dmabuf_kind, modifier = capture_rgb(Backend.DMABUF)
        if (shm == dmabuf and tuple(dmabuf[:3]) == colour) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (shm_kind, dmabuf_kind) == (BufferKind.SHM, BufferKind.DMABUF)
    pixel = bytes(colour)

    def first_other(pixels: bytes) -> int:
        return next((i // 3 for i in range(0, len(pixels), 3) if pixels[i:i + 3] != pixel), -1)

    print(f"shm first non-colour pixel {first_other(shm)}, dmabuf {first_other(dmabuf)} of {len(shm) // 3}")
    assert first_other(shm) == -1, "the compositor does not show the colour everywhere"
    assert tuple(dmabuf[:3]) == colour
    middle = len(dmabuf) // 2 // 3 * 3
    assert tuple(dmabuf[middle:middle + 3]) == colour
    assert dmabuf == shm, f"DMA-BUF (modifier {modifier:#x}) and shm captures differ"


def _linear_dmabuf_frame(connection: Connection) -> tuple[Any, Any]:
    options = screenshot_options(CaptureOptions(backend=Backend.DMABUF, protocol=CaptureProtocol.WLR))
    return capture_one(connection, options, timeout=30)


def test_a_screenshot_over_dmabuf_waits_for_the_copys_fence() -> None:
    """A write fence on the buffer that signals after the copy was asked for is what tells a one-shot
    reader the pixels are done; until it signals, the reader waits. (llvmpipe fences nothing, so a
    vgem fence stands in for a GPU still writing.)"""
    swaymsg("output", "*", "bg", "#3c78b4", "solid_color")
    expected = shown_over_shm((0x3C, 0x78, 0xB4))
    with Connection() as connection:
        session, frame = _linear_dmabuf_frame(connection)
        try:
            assert frame.buffer.modifier == DRM_FORMAT_MOD_LINEAR  # type: ignore[attr-defined]
            settled_pixels(frame)  # llvmpipe's own copy is done (a test may look; the product may not)
            plane = frame.buffer.memory.planes[0]  # type: ignore[attr-defined]
            with PendingFence() as fence:
                fence.attach_as_write(plane.fd)
                result: dict[str, Any] = {}
                reader = threading.Thread(target=lambda: result.update(
                    pixels=read_finished_dmabuf(frame.buffer, frame.requested_ns, timeout=20)))
                reader.start()
                reader.join(1.5)
                assert reader.is_alive(), "the reader did not wait for the pending write fence"
                fence.signal()
                reader.join(10)
            assert not reader.is_alive() and "pixels" in result
            image = to_rgb(result["pixels"], frame.width, frame.height, frame.stride, frame.format)
            assert image.pixels == expected
        finally:
            frame.release()
            session.close()


def test_a_screenshot_over_dmabuf_without_a_fence_is_refused() -> None:
    """llvmpipe leaves no fence on its copy: nothing says the pixels are done, so they are not read."""
    with Connection() as connection:
        session, frame = _linear_dmabuf_frame(connection)
        try:
            with pytest.raises(BackendUnavailableError, match="cannot tell when the compositor's copy"):
                read_finished_dmabuf(frame.buffer, frame.requested_ns, timeout=5)
        finally:
            frame.release()
            session.close()
