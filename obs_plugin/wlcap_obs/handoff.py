"""Frames handed to the C slot and taken back: the per-frame path between the capture thread and C.

Each frame gets a token; C returns every token exactly once (shown, dropped or cleared) and the frame's
buffer then goes back to its pool. Everything here runs on the capture thread, except `drain`, which
the controller calls once that thread has stopped: no lock is needed.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from capture import Frame
from capture.buffers.dmabuf import DmabufBuffer
from capture.buffers.formats import describe
from capture.buffers.shm import ShmBuffer
from capture.protocol.cursor_session import CursorState

from . import native


def _describe_damage(desc: Any, damage: list[tuple[int, int, int, int]]) -> None:
    """What changed since the frame before, for C to upload only that (none listed: all of it)."""
    if len(damage) > native.MAX_DAMAGE:  # too many to list: their bounding box
        x1, y1 = min(x for x, _, _, _ in damage), min(y for _, y, _, _ in damage)
        x2, y2 = max(x + w for x, _, w, _ in damage), max(y + h for _, y, _, h in damage)
        damage = [(x1, y1, x2 - x1, y2 - y1)]
    desc.n_damage = len(damage)
    for rect, (x, y, width, height) in zip(desc.damage, damage, strict=False):
        rect.x, rect.y, rect.width, rect.height = x, y, width, height


class FrameHandoff:
    def __init__(self, handle: native.SourceHandle) -> None:
        self._handle = handle
        self._handed: dict[int, Frame] = {}
        self._tokens = itertools.count(1)
        self._desc = native.new_frame_desc()  # C copies it in publish: one serves every frame
        self._cursor_serial = 0  # the cursor image C has

    def publish(self, frame: Frame) -> None:
        """Hand a new frame to C (capture thread). C drops the one it had not shown yet, if any."""
        started = time.perf_counter_ns()
        token = next(self._tokens)
        desc = self._desc
        buffer = frame.buffer
        desc.token = token
        desc.buffer_id = buffer.id
        desc.pool_generation = buffer.generation
        desc.width, desc.height, desc.format = frame.width, frame.height, frame.format
        desc.y_invert = frame.y_invert
        desc.transform = frame.transform
        crop = frame.crop
        if crop is not None:
            desc.crop_x, desc.crop_y, desc.crop_width, desc.crop_height = crop.x, crop.y, crop.width, crop.height
        else:
            desc.crop_x = desc.crop_y = desc.crop_width = desc.crop_height = 0
        if isinstance(buffer, ShmBuffer):
            desc.kind = native.FRAME_SHM
            desc.data = native.address_pointer(buffer.address)
            desc.data_size = buffer.size
            desc.stride = frame.stride
            _describe_damage(desc, frame.damage)
        elif isinstance(buffer, DmabufBuffer):
            memory = buffer.memory
            desc.kind = native.FRAME_DMABUF
            desc.n_planes = len(memory.planes)
            for index, plane in enumerate(memory.planes):
                desc.fds[index], desc.offsets[index], desc.strides[index] = plane.fd, plane.offset, plane.stride
            desc.modifier = memory.modifier
        else:
            frame.release()
            return
        self._handed[token] = frame
        in_c = time.perf_counter_ns()
        published = self._handle.publish(desc)  # a shm frame is copied here, between OBS's renders
        in_c = time.perf_counter_ns() - in_c
        if not published:
            self._release(token)
        for returned in self._handle.take_returned():  # this one once copied, or the one it replaced
            self._release(returned)
        self._handle.add_python_time(1, time.perf_counter_ns() - started - in_c)

    def publish_cursor(self, state: CursorState) -> None:
        """The cursor session's news, to C (capture thread); each image goes over once."""
        if state.image is not None and state.image.serial != self._cursor_serial:
            self._cursor_serial = state.image.serial
            if not self._handle.set_cursor_image(state.image):
                native.log(native.LOG_WARNING, f"cursor image in an unusable format ({describe(state.image.format)})")
        self._handle.set_cursor_position(state.inside, state.x, state.y)

    def collect(self) -> None:
        """Give back the buffers of every frame C has finished with (capture thread, when C woke it)."""
        started = time.perf_counter_ns()
        for token in self._handle.take_returned():
            self._release(token)
        self._handle.add_python_time(0, time.perf_counter_ns() - started)

    def drain(self) -> None:
        """After C let go of everything (SourceHandle.clear) and the capture thread stopped: take the
        last tokens back, and never leave a buffer handed out."""
        for token in self._handle.take_returned():
            self._release(token)
        leftover, self._handed = self._handed, {}
        for frame in leftover.values():
            frame.release()
        self._cursor_serial = 0

    def _release(self, token: int) -> None:
        frame = self._handed.pop(token, None)
        if frame is not None:
            frame.release()
