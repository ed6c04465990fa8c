"""wl_shm buffers: all buffers of a pool share one memfd and one wl_shm_pool."""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
from typing import Any

from capture.buffers.formats import shm_from_drm
from capture.buffers.spec import Buffer, BufferKind, BufferSpec


class ShmMemory:
    """A memfd, its mapping and its wl_shm_pool, kept alive while any buffer uses it."""

    def __init__(self, wl_shm: Any, size: int) -> None:
        self.fd = os.memfd_create("wlcap-shm", os.MFD_CLOEXEC)
        try:
            os.ftruncate(self.fd, size)
            self.map = mmap.mmap(self.fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            os.close(self.fd)
            raise
        self.wl_pool = wl_shm.create_pool(self.fd, size)
        # Where the mapping starts, for C consumers (the OBS source) that read it while the buffer is
        # theirs: taken once, so that no frame needs a buffer export of its own.
        self.address = ctypes.addressof(ctypes.c_char.from_buffer(self.map))
        self._users = 0

    def retain(self) -> None:
        self._users += 1

    def release(self) -> None:
        self._users -= 1
        if self._users == 0:
            self.wl_pool.destroy()
            os.close(self.fd)
            # A consumer may still hold a view: then the mapping goes away with the last view.
            with contextlib.suppress(BufferError):
                self.map.close()


class ShmBuffer(Buffer):
    def __init__(self, spec: BufferSpec, memory: ShmMemory, offset: int) -> None:
        wl_buffer = memory.wl_pool.create_buffer(
            offset, spec.width, spec.height, spec.stride, shm_from_drm(spec.format))
        super().__init__(spec, wl_buffer, spec.stride)
        self.memory = memory
        self.offset = offset
        self.size = spec.stride * spec.height
        memory.retain()

    @property
    def address(self) -> int:
        """The first pixel's address in this process; valid until the buffer is destroyed."""
        return self.memory.address + self.offset

    def view(self) -> memoryview:
        """The pixels (stride * height bytes). Release the view before the buffer is destroyed."""
        return memoryview(self.memory.map)[self.offset:self.offset + self.size]

    def _free_storage(self) -> None:
        self.memory.release()


class ShmAllocator:
    kind = BufferKind.SHM

    def __init__(self, wl_shm: Any) -> None:
        self._wl_shm = wl_shm

    def allocate(self, spec: BufferSpec, count: int) -> list[Buffer]:
        size = spec.stride * spec.height
        memory = ShmMemory(self._wl_shm, size * count)
        memory.retain()  # hold it while the buffers are made
        try:
            return [ShmBuffer(spec, memory, i * size) for i in range(count)]
        finally:
            memory.release()
