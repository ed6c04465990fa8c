"""A captured frame, handed to the consumer until it gives the buffer back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from capture.buffers.dmabuf import read_dmabuf
from capture.buffers.shm import ShmBuffer
from capture.buffers.spec import Buffer, BufferKind
from capture.errors import WlcapError
from capture.region import Region


@dataclass
class Frame:
    """A captured frame. The consumer must call `release` (or use `with`) to give the buffer back."""

    buffer: Buffer
    width: int
    height: int
    stride: int
    format: int  # DRM fourcc
    y_invert: bool
    transform: int  # enum wl_output.transform of the output at capture time
    timestamp_ns: int  # the compositor's presentation clock
    damage: list[tuple[int, int, int, int]]
    sequence: int
    # Part of the upright frame to show, where the compositor captured more than the region asked for
    # (see OutputTarget.compositor_region); None: all of it.
    crop: Region | None = None
    # CLOCK_MONOTONIC when the copy was asked for: a fence that signalled later ended the copy's work.
    requested_ns: int = 0
    _release: Callable[[Buffer], None] | None = field(default=None, repr=False)

    @property
    def kind(self) -> BufferKind:
        return self.buffer.kind

    def view(self) -> memoryview:
        """The pixels of a shm frame (stride * height bytes)."""
        if not isinstance(self.buffer, ShmBuffer):
            raise WlcapError("only shm frames can be read directly; use read_pixels for a DMA-BUF frame")
        return self.buffer.view()

    def read_pixels(self) -> bytes:
        """A copy of the pixels (stride * height bytes), shm or LINEAR DMA-BUF alike."""
        if self.kind is BufferKind.DMABUF:
            return read_dmabuf(self.buffer)
        view = self.view()
        try:
            return bytes(view)
        finally:
            view.release()

    def release(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            release(self.buffer)

    def __enter__(self) -> Frame:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
