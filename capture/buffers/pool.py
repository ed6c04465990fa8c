"""A small pool of capture buffers, allocated once and reused for the whole stream.

The pool is keyed by the compositor's constraints (kind, size, format, stride or modifiers); it is
rebuilt only when they change. Buffers a consumer still holds at a rebuild are destroyed when they
come back, never reused.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from capture.buffers.spec import Buffer, BufferKind, BufferSpec


class Allocator(Protocol):
    kind: BufferKind

    def allocate(self, spec: BufferSpec, count: int) -> list[Buffer]: ...


class BufferPool:
    def __init__(self, allocator: Allocator, size: int = 3) -> None:
        if not 2 <= size <= 4:
            raise ValueError("a capture pool holds 2 to 4 buffers")
        self.allocator = allocator
        self.size = size
        self.spec: BufferSpec | None = None
        self.generation = 0
        self._buffers: list[Buffer] = []
        self._free: deque[Buffer] = deque()
        self._live: set[Buffer] = set()  # every buffer not yet destroyed, of any generation
        self.buffers_allocated = 0
        self.reallocations = 0

    @property
    def buffers(self) -> list[Buffer]:
        return list(self._buffers)

    def ensure(self, spec: BufferSpec) -> None:
        """Make the pool match spec, (re)allocating only when the key changed."""
        if self.spec is not None and self.spec.pool_key == spec.pool_key:
            return
        if self.spec is not None:
            self.reallocations += 1
        self._drop_buffers()
        self.generation += 1
        buffers = self.allocator.allocate(spec, self.size)
        for buffer in buffers:
            buffer.generation = self.generation
        self.spec = spec
        self._buffers = buffers
        self._free = deque(buffers)
        self._live.update(buffers)
        self.buffers_allocated += len(buffers)

    def acquire(self) -> Buffer | None:
        """A free buffer, or None when all are in flight or held by the consumer."""
        return self._free.popleft() if self._free else None

    def release(self, buffer: Buffer) -> None:
        if buffer.generation == self.generation and not buffer.destroyed:
            self._free.append(buffer)
        else:
            buffer.destroy()
            self._live.discard(buffer)

    @property
    def free_count(self) -> int:
        return len(self._free)

    def _drop_buffers(self) -> None:
        # Free buffers go now; the others are destroyed by `release` when they come back.
        for buffer in self._free:
            buffer.destroy()
            self._live.discard(buffer)
        self._free.clear()
        self._buffers = []

    @property
    def live_count(self) -> int:
        return len(self._live)

    def destroy(self) -> None:
        """Destroy every buffer, also those in flight or held: the stream is over."""
        for buffer in self._live:
            buffer.destroy()
        self._live.clear()
        self._free.clear()
        self._buffers = []
        self.spec = None
        self.generation += 1
