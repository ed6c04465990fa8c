"""A sway of the tests' own on the guest's second virtio-gpu card (tests/vm/run-guest.sh gives the guest
two), on the DRM backend as on a desktop, that a test may kill, restart, and give outputs to or take
them from, while OBS keeps drawing on the tier's sway on the first card.

The tier's sway holds the first card as DRM master through seatd, and seatd serves one session at a
time: this one opens the second card itself (libseat's noop backend), and so is its master. Its
multi-backend adds headless outputs (`create_output`) beside the card's.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from capture.buffers.native import drm_node_renders

UID = 1000  # the guest's user `wl`, as the tier's sway runs
RUNTIME_DIR = Path("/tmp/wlcap-second-sway")
CONFIG = RUNTIME_DIR.parent / "wlcap-second-sway.conf"
LOG = Path(os.environ.get("WLCAP_SHARE", "/tmp")) / "second-sway.log"


def second_card() -> str:
    """The primary node of the second virtio-gpu card."""
    cards = [str(card) for card in sorted(Path("/dev/dri").glob("card[0-9]*"))
             if drm_node_renders(str(card))[1] == "virtio_gpu"]
    if len(cards) < 2:
        raise RuntimeError(f"one virtio-gpu card ({cards}): tests/vm/run-guest.sh gives the guest two")
    return cards[1]


RUN_COMMAND, GET_OUTPUTS, GET_VERSION = 0, 3, 7  # sway-ipc(7) message types
IPC_MAGIC = b"i3-ipc"


def sway_ipc(path: str, kind: int, payload: str, timeout: float = 120) -> Any:
    """One sway IPC request and its JSON reply (sway-ipc(7): magic, length, type, payload)."""
    body = payload.encode()
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(timeout)
        connection.connect(path)
        connection.sendall(IPC_MAGIC + struct.pack("=II", len(body), kind) + body)
        header = _receive(connection, len(IPC_MAGIC) + 8)
        length, _kind = struct.unpack("=II", header[len(IPC_MAGIC):])
        return json.loads(_receive(connection, length))


def _receive(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("sway closed its IPC connection")
        data += chunk
    return data


class SecondSway:
    def __init__(self, config: str) -> None:
        self.card = second_card()
        RUNTIME_DIR.mkdir(mode=0o700, exist_ok=True)
        os.chown(RUNTIME_DIR, UID, UID)
        CONFIG.write_text(config)
        CONFIG.chmod(0o644)
        self.process: subprocess.Popen[bytes] | None = None
        self.ipc = ""
        self.socket = ""
        self.starts = 0

    @property
    def display(self) -> str:
        """Its Wayland socket, absolute: what a client of another session's environment connects to."""
        return str(RUNTIME_DIR / self.socket)

    @property
    def prime(self) -> str:
        """Mesa's DRI_PRIME name of its card (the ID_PATH_TAG form): a client that renders there can
        import the DMA-BUFs allocated on it, as a GPU imports its own memory."""
        address = Path(f"/sys/class/drm/{Path(self.card).name}/device").resolve().name  # 0000:00:04.0
        return "pci-" + address.replace(":", "_").replace(".", "_")

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, XDG_RUNTIME_DIR=str(RUNTIME_DIR), WAYLAND_DISPLAY=self.socket)

    def start(self, timeout: float = 90) -> None:
        env = {"HOME": "/home/wl", "USER": "wl", "PATH": os.environ["PATH"], "XDG_RUNTIME_DIR": str(RUNTIME_DIR),
               "LIBSEAT_BACKEND": "noop", "WLR_BACKENDS": "drm,headless", "WLR_HEADLESS_OUTPUTS": "0",
               "WLR_DRM_DEVICES": self.card, "WLR_RENDERER": "gles2", "WLR_LIBINPUT_NO_DEVICES": "1"}
        self.starts += 1
        with LOG.open("a") as log:
            log.write(f"--- start {self.starts}\n")
            log.flush()
            self.process = subprocess.Popen(
                ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--init-groups", "sway", "-c", str(CONFIG)],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        ipc = RUNTIME_DIR / f"sway-ipc.{UID}.{self.process.pid}.sock"
        deadline = time.monotonic() + timeout
        while True:
            # A socket of a killed sway stays behind; the new one takes its name again (its lock is free).
            sockets = sorted(p.name for p in RUNTIME_DIR.glob("wayland-[0-9]*") if not p.name.endswith(".lock"))
            if ipc.exists() and sockets and self._answers(str(ipc)):
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the second sway did not come up; see {LOG}")
            time.sleep(0.2)
        self.ipc, self.socket = str(ipc), sockets[0]

    def ensure_running(self) -> None:
        """Started again where a test left it killed."""
        if self.process is None or self.process.poll() is not None:
            self.start()

    def set_background(self, colour: tuple[int, int, int], output: str = "") -> None:
        """The background of `output` (the card's by default)."""
        self.swaymsg("output", output or self.card_output(), "bg", "#" + bytes(colour).hex(), "solid_color")

    def _answers(self, ipc: str) -> bool:
        try:
            sway_ipc(ipc, GET_VERSION, "", timeout=10)
        except OSError:
            return False
        return True

    def swaymsg(self, *args: str) -> Any:
        """A sway command; the replies, or AssertionError with sway's. Sent over the IPC socket here,
        not with swaymsg, whose 3 s wait for the reply a modeset under TCG can outlast (and a
        command such as create_output must not be sent twice)."""
        replies = sway_ipc(self.ipc, RUN_COMMAND, " ".join(args))
        failed = [reply.get("error", "failed") for reply in replies if not reply.get("success")]
        assert not failed, f"sway: {' '.join(args)}: {'; '.join(failed)}"
        return replies

    def configure(self, output: str, *words: str, done: Callable[[dict[str, Any]], bool]) -> None:
        """`output OUTPUT WORDS...` until sway's get_outputs says `done` of it: on virtio-gpu under TCG
        sway's commit of a modeset now and then fails ("Backend commit failed", in its log) while the
        command answers success, and the output stays as it was until the command comes again."""
        for _attempt in range(3):
            self.swaymsg("output", output, *words)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if done(self.outputs().get(output, {})):
                    return
                time.sleep(0.5)
            print(f"sway did not apply 'output {output} {' '.join(words)}'; sending it again")
        raise AssertionError(f"sway did not apply 'output {output} {' '.join(words)}': {self.outputs().get(output)}")

    def outputs(self) -> dict[str, dict[str, Any]]:
        return {output["name"]: output for output in sway_ipc(self.ipc, GET_OUTPUTS, "")}

    def card_output(self) -> str:
        """The name of the output on the card (not a headless one)."""
        return next(name for name in self.outputs() if not name.startswith("HEADLESS-"))

    def kill(self) -> None:
        """As a crash ends it: no goodbye to its clients, its sockets left behind."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
