"""Capture buffers: what the compositor asked for (BufferSpec) and what wlcap allocated (Buffer)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from capture.buffers.formats import describe, lookup
from capture.errors import ProtocolStateError

MAX_SIDE = 16384  # pixels: more than any output or texture (OBS's frame check refuses more too)
MAX_SHM_POOL_BYTES = 2**31 - 1  # wl_shm.create_pool takes the size as an int


class BufferKind(Enum):
    SHM = "shm"
    DMABUF = "dmabuf"


@dataclass(frozen=True)
class BufferSpec:
    """A buffer layout the compositor accepts for a frame."""

    kind: BufferKind
    width: int
    height: int
    format: int  # DRM fourcc (wl_shm's 0/1 codes are translated on arrival)
    stride: int = 0  # shm only
    modifiers: tuple[int, ...] = field(default=())  # dmabuf only: the modifiers allocation may pick from

    @property
    def pool_key(self) -> tuple[Any, ...]:
        return (self.kind, self.width, self.height, self.format, self.stride, self.modifiers)

    def check(self, count: int) -> None:
        """Refuse, before anything is allocated, a layout the compositor asked for that no buffer can
        have, or that wlcap could not read: each pixel read later lies inside the memory behind it."""
        problem = ""
        if not (1 <= self.width <= MAX_SIDE and 1 <= self.height <= MAX_SIDE):
            problem = f"a {self.width}x{self.height} buffer"
        elif self.kind is BufferKind.SHM:
            fmt = lookup(self.format)
            if fmt is None:
                problem = f"shared memory in format {describe(self.format)}, which wlcap cannot read"
            elif self.stride < self.width * fmt.bytes_per_pixel:
                problem = (f"stride {self.stride}, shorter than a row of {self.width} pixels "
                           f"({self.width * fmt.bytes_per_pixel} bytes)")
            elif self.stride * self.height * count > MAX_SHM_POOL_BYTES:
                problem = (f"{count} shared-memory buffers of {self.width}x{self.height} at stride {self.stride}, "
                           "more than wl_shm can share")
        if problem:
            raise ProtocolStateError(f"the compositor asked for {problem}")


_buffer_ids = itertools.count(1)


class Buffer:
    """One allocated buffer with its wl_buffer. `id` is unique for the life of the process, so a
    consumer (OBS) can cache what it imported from the buffer under that id."""

    def __init__(self, spec: BufferSpec, wl_buffer: Any, stride: int) -> None:
        self.id = next(_buffer_ids)
        self.spec = spec
        self.wl_buffer = wl_buffer
        self.stride = stride
        self.generation = 0  # set by the pool
        self.destroyed = False

    @property
    def kind(self) -> BufferKind:
        return self.spec.kind

    def destroy(self) -> None:
        if self.destroyed:
            return
        self.destroyed = True
        if self.wl_buffer is not None and not self.wl_buffer.destroyed:
            self.wl_buffer.destroy()
        self._free_storage()

    def _free_storage(self) -> None:
        """Release what backs the buffer (memory, fds); subclasses override."""
