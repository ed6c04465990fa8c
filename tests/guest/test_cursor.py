"""Cursor modes for real, on sway 1.12 in the guest tier: the cursor painted into frames, hidden, or
captured apart (ext-image-copy-capture-v1's cursor session) with its position, hotspot and image.

The guest's sway has no input devices, so a virtual pointer (capture.virtualpointer) gives its seat a
pointer; sway shows that pointer's cursor on the virtio-gpu card's cursor plane."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from harness.obs_guest import Colour, set_background
from pointer import Pointer, cursor_at, virtual_pointer, wait_until

from capture import Backend, CaptureOptions, Connection, CursorMode, FrameStream, capture_one
from capture.image import to_rgb
from capture.options import CaptureProtocol
from capture.protocol.cursor_session import CursorImage

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")

BACKGROUND: Colour = (30, 90, 160)
EXT = CaptureProtocol.EXT


@pytest.fixture(scope="module")
def pointer() -> Iterator[Pointer]:
    with virtual_pointer() as pointer:
        yield pointer


def capture_rgb(cursor: CursorMode) -> tuple[bytes, int, int]:
    with Connection() as connection:
        session, frame = capture_one(connection, CaptureOptions(backend=Backend.SHM, protocol=EXT, cursor=cursor),
                                     timeout=30)
        try:
            image = to_rgb(frame.read_pixels(), frame.width, frame.height, frame.stride, frame.format)
        finally:
            frame.release()
            session.close()
    return image.pixels, image.width, image.height


def cursor_pixel(image: CursorImage, x: int, y: int) -> tuple[int, int, int, int]:
    """R, G, B, A (premultiplied) of an ARGB8888 cursor image."""
    offset = y * image.stride + x * 4
    b, g, r, a = image.pixels[offset:offset + 4]
    return r, g, b, a


def composite(background: Colour, image: CursorImage, top_left: tuple[int, int], width: int,
              height: int) -> dict[tuple[int, int], Colour]:
    """What a painted cursor must make of the background where its pixels are opaque or clear; the
    partly transparent edge is left out (its rounding is the compositor's)."""
    expected: dict[tuple[int, int], Colour] = {}
    left, top = top_left
    for y in range(image.height):
        for x in range(image.width):
            fx, fy = left + x, top + y
            if not (0 <= fx < width and 0 <= fy < height):
                continue
            r, g, b, a = cursor_pixel(image, x, y)
            if a == 255:
                expected[(fx, fy)] = (r, g, b)
            elif a == 0:
                expected[(fx, fy)] = background
    return expected


def rgb_at(pixels: bytes, width: int, x: int, y: int) -> Colour:
    offset = (y * width + x) * 3
    return pixels[offset], pixels[offset + 1], pixels[offset + 2]


def test_separate_cursor_reports_position_hotspot_and_image(pointer: Pointer) -> None:
    set_background(BACKGROUND)
    state = cursor_at(pointer, 200, 150)
    image = state.image
    assert image is not None
    alphas = [cursor_pixel(image, x, y)[3] for y in range(image.height) for x in range(image.width)]
    print(f"cursor image {image.width}x{image.height}, hotspot {image.hotspot_x},{image.hotspot_y}, "
          f"{alphas.count(255)} opaque pixels")
    assert alphas.count(255) > 20, "the cursor image has no opaque pixels"
    assert alphas.count(0) > 20, "the cursor image has no clear pixels"
    assert 0 <= image.hotspot_x < image.width and 0 <= image.hotspot_y < image.height
    assert state.top_left == (200 - image.hotspot_x, 150 - image.hotspot_y)


def test_a_moving_cursor_costs_no_image_copy_and_frames_leave_it_out(pointer: Pointer) -> None:
    set_background(BACKGROUND)
    pointer.move(100, 100)
    options = CaptureOptions(backend=Backend.SHM, protocol=EXT, cursor=CursorMode.SEPARATE)
    fds_before = len(os.listdir("/proc/self/fd"))
    with FrameStream(options) as stream:
        wait_until("the first cursor image", lambda: stream.cursor.image is not None)
        cursor = stream.session.cursor  # type: ignore[attr-defined]
        images = cursor.images_captured
        for x in (150, 250, 350):
            pointer.move(x, 120)
            wait_until(f"the cursor at {x},120", lambda x=x: (stream.cursor.x, stream.cursor.y) == (x, 120))
        assert cursor.images_captured == images, "moving the cursor copied its image again"
        frame = stream.get_frame(timeout=30)
        assert frame is not None
        with frame:
            image = to_rgb(frame.read_pixels(), frame.width, frame.height, frame.stride, frame.format)
    assert image.pixels == bytes(BACKGROUND) * (image.width * image.height), "the frame has the cursor in it"
    assert len(os.listdir("/proc/self/fd")) == fds_before, "the cursor session left an fd behind"


def test_painted_cursor_is_in_the_frame_and_hidden_is_not(pointer: Pointer) -> None:
    set_background(BACKGROUND)
    state = cursor_at(pointer, 300, 200)
    assert state.image is not None and state.top_left is not None

    pixels, width, height = capture_rgb(CursorMode.HIDDEN)
    assert pixels == bytes(BACKGROUND) * (width * height), "a hidden cursor showed up in the frame"

    expected = composite(BACKGROUND, state.image, state.top_left, width, height)
    deadline = time.monotonic() + 30
    while True:  # the compositor moves the cursor from its plane into the frame for the painting session
        pixels, width, height = capture_rgb(CursorMode.PAINTED)
        wrong = [(xy, rgb_at(pixels, width, *xy), colour) for xy, colour in expected.items()
                 if rgb_at(pixels, width, *xy) != colour]
        if not wrong or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not wrong, f"{len(wrong)} of {len(expected)} cursor pixels differ, e.g. {wrong[:3]}"
    assert untouched_outside(pixels, width, height, state.top_left, state.image), \
        "the painted cursor is not where the cursor session put it"


def untouched_outside(pixels: bytes, width: int, height: int, top_left: tuple[int, int], image: CursorImage) -> bool:
    """Whether every pixel outside the cursor image's rectangle shows the background."""
    left, top = top_left
    x0, x1 = max(0, left), min(width, left + image.width)
    for y in range(height):
        row = pixels[y * width * 3:(y + 1) * width * 3]
        if top <= y < top + image.height:
            row = row[:x0 * 3] + row[x1 * 3:]
        if row != bytes(BACKGROUND) * (len(row) // 3):
            return False
    return True
