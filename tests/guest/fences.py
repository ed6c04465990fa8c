"""Genuinely pending fences for the guest tier, and a look at another process's DMA-BUFs.

vgem (the kernel's virtual GEM driver) attaches a fence to one of its buffers that stays pending until
VGEM_FENCE_SIGNAL (or vgem's own 10 s timeout): exported as a sync_file and imported into any DMA-BUF,
it stands for a GPU write that has not finished. llvmpipe never leaves a pending fence of its own, so
ordering cannot be shown without this. OBS's pool buffers are reached with pidfd_getfd, so nothing in
OBS's process is there for the tests' sake.
"""

from __future__ import annotations

import ctypes
import fcntl
import glob
import os
import select
import struct
from dataclasses import dataclass

# ioctl numbers: _IOC(dir, type, nr, size) = dir << 30 | size << 16 | type << 8 | nr
_READ, _WRITE = 2, 1


def _ioc(direction: int, kind: str, nr: int, size: int) -> int:
    return direction << 30 | size << 16 | ord(kind) << 8 | nr


DRM_IOCTL_VERSION = _ioc(_READ | _WRITE, "d", 0x00, 64)
DRM_IOCTL_PRIME_HANDLE_TO_FD = _ioc(_READ | _WRITE, "d", 0x2D, 12)
DRM_IOCTL_MODE_CREATE_DUMB = _ioc(_READ | _WRITE, "d", 0xB2, 32)
DRM_IOCTL_VGEM_FENCE_ATTACH = _ioc(_READ | _WRITE, "d", 0x41, 16)
DRM_IOCTL_VGEM_FENCE_SIGNAL = _ioc(_WRITE, "d", 0x42, 8)
DMA_BUF_IOCTL_EXPORT_SYNC_FILE = _ioc(_READ | _WRITE, "b", 2, 8)
DMA_BUF_IOCTL_IMPORT_SYNC_FILE = _ioc(_WRITE, "b", 3, 8)
DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE = 1, 2
VGEM_FENCE_WRITE = 1
SYS_PIDFD_GETFD = 438


def drm_driver_name(fd: int) -> str:
    name = ctypes.create_string_buffer(64)
    version = bytearray(struct.pack("iiiQQQQQQ", 0, 0, 0, 64, ctypes.addressof(name), 0, 0, 0, 0))
    fcntl.ioctl(fd, DRM_IOCTL_VERSION, version)
    return name.value.decode()


def drm_card(driver: str) -> str:
    """The primary node of a DRM driver (vgem creates buffers only there, as does virtio-gpu 2D)."""
    for node in sorted(glob.glob("/dev/dri/card*")):
        fd = os.open(node, os.O_RDWR | os.O_CLOEXEC)
        try:
            if drm_driver_name(fd) == driver:
                return node
        finally:
            os.close(fd)
    raise RuntimeError(f"no {driver} card (modprobe {driver})")


def open_vgem() -> int:
    return os.open(drm_card("vgem"), os.O_RDWR | os.O_CLOEXEC)


def is_signalled(sync_file: int) -> bool:
    """A sync_file polls readable once signalled; a zero timeout only looks."""
    return bool(select.select([sync_file], [], [], 0)[0])


def export_sync_file(dmabuf: int, flags: int) -> int:
    """The buffer's fences as a sync_file: READ gives the writes a reader waits for, WRITE everything
    (reads included) a writer waits for."""
    arg = bytearray(struct.pack("Ii", flags, -1))
    fcntl.ioctl(dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg)
    return struct.unpack("Ii", arg)[1]


def import_sync_file(dmabuf: int, sync_file: int, flags: int) -> None:
    fcntl.ioctl(dmabuf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, struct.pack("Ii", flags, sync_file))


def writers_blocked(dmabuf: int) -> bool:
    """Whether a write into the buffer would have to wait now (a fence, read or write, pending)."""
    fence = export_sync_file(dmabuf, DMA_BUF_SYNC_WRITE)
    try:
        return not is_signalled(fence)
    finally:
        os.close(fence)


class PendingFence:
    """One vgem fence, pending until signal(). As a sync_file it can be attached to any DMA-BUF as a
    write still in flight."""

    def __init__(self) -> None:
        self.vgem = open_vgem()
        dumb = bytearray(struct.pack("IIIIIIQ", 1, 4096, 8, 0, 0, 0, 0))  # height, width, bpp, ...
        fcntl.ioctl(self.vgem, DRM_IOCTL_MODE_CREATE_DUMB, dumb)
        handle = struct.unpack("IIIIIIQ", dumb)[4]
        attach = bytearray(struct.pack("IIII", handle, VGEM_FENCE_WRITE, 0, 0))
        fcntl.ioctl(self.vgem, DRM_IOCTL_VGEM_FENCE_ATTACH, attach)
        self.fence_id = struct.unpack("IIII", attach)[2]
        prime = bytearray(struct.pack("IIi", handle, os.O_CLOEXEC | os.O_RDWR, -1))
        fcntl.ioctl(self.vgem, DRM_IOCTL_PRIME_HANDLE_TO_FD, prime)
        self.dmabuf = struct.unpack("IIi", prime)[2]
        self.sync_file = export_sync_file(self.dmabuf, DMA_BUF_SYNC_READ)
        self.signalled = False
        assert not is_signalled(self.sync_file), "a fresh vgem fence is pending"

    def attach_as_write(self, dmabuf: int) -> None:
        import_sync_file(dmabuf, self.sync_file, DMA_BUF_SYNC_WRITE)

    def signal(self) -> None:
        if not self.signalled:
            fcntl.ioctl(self.vgem, DRM_IOCTL_VGEM_FENCE_SIGNAL, struct.pack("II", self.fence_id, 0))
            self.signalled = True

    def close(self) -> None:
        self.signal()  # never leave a fence pending behind a test
        for fd in (self.sync_file, self.dmabuf, self.vgem):
            os.close(fd)

    def __enter__(self) -> PendingFence:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ForeignDmabuf:
    """A duplicate of one of another process's DMA-BUF fds (same buffer, same reservation object)."""

    fd: int
    size: int
    exporter: str


def _pidfd_getfd(pidfd: int, target: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, target, 0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), f"pidfd_getfd({target})")
    return int(fd)


def dmabufs_of(pid: int, min_size: int) -> list[ForeignDmabuf]:
    """The distinct DMA-BUFs (by inode) process `pid` holds fds for, at least min_size bytes."""
    pidfd = os.pidfd_open(pid)
    found: dict[int, ForeignDmabuf] = {}
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                with open(f"/proc/{pid}/fdinfo/{name}") as info:
                    fields = dict(line.split(":", 1) for line in info.read().splitlines() if ":" in line)
            except OSError:
                continue
            if "exp_name" not in fields or int(fields.get("size", "0")) < min_size:
                continue
            fd = _pidfd_getfd(pidfd, int(name))
            inode = os.fstat(fd).st_ino
            if inode in found:
                os.close(fd)
                continue
            found[inode] = ForeignDmabuf(fd, int(fields["size"]), fields["exp_name"].strip())
    finally:
        os.close(pidfd)
    return list(found.values())
