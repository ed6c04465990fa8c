"""A pointer for the guest's sway, which has no input devices: capture.virtualpointer in a child process
(the seat has a pointer while it runs), and the cursor wlcap then captures."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from harness.clients import client_command
from harness.obs_guest import REPO

from capture import Backend, CaptureOptions, CursorMode, FrameStream
from capture.options import CaptureProtocol
from capture.protocol.cursor_session import CursorState


class Pointer:
    """capture.virtualpointer in a child process: the seat has a pointer while it runs."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([*client_command("virtualpointer")], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))

    def move(self, x: int, y: int) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"move {x} {y}\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().split() == ["moved", str(x), str(y)]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("quit\n")
        self.process.stdin.close()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextmanager
def virtual_pointer() -> Iterator[Pointer]:
    pointer = Pointer()
    try:
        yield pointer
    finally:
        pointer.close()


def wait_until(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def cursor_at(pointer: Pointer, x: int, y: int) -> CursorState:
    """The cursor wlcap captures apart, with its image, once the pointer is at x, y."""
    pointer.move(x, y)
    options = CaptureOptions(backend=Backend.SHM, protocol=CaptureProtocol.EXT, cursor=CursorMode.SEPARATE)
    with FrameStream(options) as stream:
        wait_until("the cursor and its image", lambda: stream.cursor.image is not None
                   and (stream.cursor.inside, stream.cursor.x, stream.cursor.y) == (True, x, y))
        return stream.cursor
