"""A lying compositor for the tests: a Wayland wire proxy between clients and a real compositor.

A test fake, and only in part: the compositor behind it is real (sway headless) and does all the
work; the proxy forwards every message both ways, file descriptors included, and applies one chosen
`Lie` to the events going to the client (a wrong buffer size, stride or format, a `ready` out of
order, a flood of damage: wayland_lies.LIES names them). Clients reach it by setting WAYLAND_DISPLAY
to `proxy.name`.

It keeps, per client, which interface each object id is (wl_display is 1; every new_id argument of
a request or an event, and wl_registry.bind's interface string, add one), reading the argument
signatures from the protocol XML. Events are decoded, handed to the lie, and encoded again; requests
go on as they came, with their fds, and are decoded only to learn the ids they create.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import socket
import struct
import threading
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PROTOCOL_XML = [Path("/usr/share/wayland/wayland.xml"),
                *sorted((REPO / "capture" / "wayland" / "protocols").glob("*.xml"))]
MAX_FDS_PER_SEND = 28  # libwayland's MAX_FDS_OUT: more in one sendmsg are cut off at the reader
_HEADER = struct.Struct("<IHH")  # object id, opcode, size (both halves of the second word, little-endian)
_proxy_names = itertools.count(1)


@dataclass(frozen=True)
class Arg:
    name: str
    type: str  # int, uint, fixed, string, object, new_id, array, fd
    interface: str | None  # for object and new_id; None for wl_registry.bind's untyped new_id


@dataclass(frozen=True)
class Signature:
    name: str
    args: tuple[Arg, ...]

    @property
    def fd_count(self) -> int:
        return sum(1 for arg in self.args if arg.type == "fd")


@dataclass(frozen=True)
class Interface:
    name: str
    requests: tuple[Signature, ...]
    events: tuple[Signature, ...]


def load_interfaces(paths: Iterable[Path] = PROTOCOL_XML) -> dict[str, Interface]:
    interfaces = {}
    for path in paths:
        for node in ET.parse(path).getroot().iter("interface"):
            def signatures(kind: str, node: ET.Element = node) -> tuple[Signature, ...]:
                return tuple(Signature(m.attrib["name"], tuple(
                    Arg(a.attrib["name"], a.attrib["type"], a.attrib.get("interface")) for a in m.iter("arg")))
                    for m in node.iter(kind))
            interfaces[node.attrib["name"]] = Interface(node.attrib["name"], signatures("request"),
                                                        signatures("event"))
    return interfaces


@dataclass
class Message:
    """One event, decoded. Its fd arguments are open fds: a lie that drops the event closes them."""

    object_id: int
    interface: str
    name: str
    # One a signature argument: int for int, uint, fixed (raw), object and new_id; str or None for a
    # string; bytes for an array; an fd number for an fd.
    args: list[Any]


def _padded(length: int) -> int:
    return (length + 3) & ~3


def decode(data: bytes | memoryview, signature: Signature, fds: deque[int] | None) -> list[Any]:
    """The arguments after the header, one for each of the signature's; an untyped new_id decodes as
    (interface, version, id), an fd as the next of `fds` (None when `fds` is: requests are only read)."""
    args: list[Any] = []
    at = 0
    for arg in signature.args:
        if arg.type == "fd":
            args.append(fds.popleft() if fds is not None else None)
            continue
        if arg.type == "new_id" and arg.interface is None:
            length = struct.unpack_from("<I", data, at)[0]
            name = bytes(data[at + 4:at + 4 + length - 1]).decode()
            at += 4 + _padded(length)
            version, new_id = struct.unpack_from("<II", data, at)
            at += 8
            args.append((name, version, new_id))
        elif arg.type in ("string", "array"):
            length = struct.unpack_from("<I", data, at)[0]
            raw = bytes(data[at + 4:at + 4 + length])
            at += 4 + _padded(length)
            if arg.type == "array":
                args.append(raw)
            else:
                args.append(raw[:-1].decode(errors="replace") if length else None)
        else:
            args.append(struct.unpack_from("<i" if arg.type in ("int", "fixed") else "<I", data, at)[0])
            at += 4
    return args


def encode(object_id: int, opcode: int, signature: Signature, args: list[Any]) -> bytes:
    body = bytearray()
    for arg, value in zip(signature.args, args, strict=True):
        if arg.type == "fd":
            continue  # fds travel beside the bytes
        if arg.type in ("string", "array"):
            raw = b"" if value is None else value.encode() + b"\0" if arg.type == "string" else value
            body += struct.pack("<I", len(raw)) + raw + b"\0" * (_padded(len(raw)) - len(raw))
        elif arg.type == "new_id" and arg.interface is None:
            name, version, new_id = value
            raw = name.encode() + b"\0"
            body += struct.pack("<I", len(raw)) + raw + b"\0" * (_padded(len(raw)) - len(raw))
            body += struct.pack("<II", version, new_id)
        else:
            body += struct.pack("<i" if arg.type in ("int", "fixed") else "<I", value)
    return _HEADER.pack(object_id, opcode, _HEADER.size + len(body)) + bytes(body)


class Lie:
    """What the proxy does to each event for one client: the truth, unless a subclass says otherwise.
    One instance a connection, so a lie may keep state."""

    def __call__(self, event: Message) -> list[Message]:
        return [event]


@dataclass
class _Direction:
    """Bytes and fds read from one socket and not yet parsed, and what waits to be written to the other."""

    data: bytearray = field(default_factory=bytearray)
    fds: deque[int] = field(default_factory=deque)
    out: deque[tuple[bytes, list[int]]] = field(default_factory=deque)


class _Client:
    def __init__(self, client: socket.socket, upstream: socket.socket, interfaces: dict[str, Interface],
                 lie: Lie) -> None:
        self.client, self.upstream = client, upstream
        self.objects: dict[int, str] = {1: "wl_display"}
        self.requests, self.events = _Direction(), _Direction()
        self._interfaces = interfaces
        self._lie = lie

    def sockets(self) -> tuple[socket.socket, socket.socket]:
        return self.client, self.upstream

    def read(self, sock: socket.socket) -> bool:
        """Take what `sock` has; False when it closed."""
        try:
            data, ancillary, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(253 * 4))
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        fds: list[int] = []
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(struct.unpack(f"<{len(payload) // 4}i", payload[:len(payload) - len(payload) % 4]))
        if not data and not fds:
            return False
        if sock is self.client:
            # Requests go on exactly as they came: only the ids they create are read.
            self.requests.out.append((data, fds))
            self.requests.data += data
            self._parse(self.requests, requests=True)
        else:
            self.events.data += data
            self.events.fds.extend(fds)
            self._parse(self.events, requests=False)
        return True

    def _parse(self, direction: _Direction, requests: bool) -> None:
        buffer = direction.data
        at = 0
        with memoryview(buffer) as view:
            while len(buffer) - at >= _HEADER.size:
                object_id, opcode, size = _HEADER.unpack_from(buffer, at)
                if size < _HEADER.size or len(buffer) - at < size:
                    break
                self._message(direction, object_id, opcode, view[at:at + size], requests)
                at += size
        del buffer[:at]

    def _message(self, direction: _Direction, object_id: int, opcode: int, message: memoryview,
                 requests: bool) -> None:
        interface = self._interfaces.get(self.objects.get(object_id, ""))
        signatures = (interface.requests if requests else interface.events) if interface else ()
        if opcode >= len(signatures):
            # An object the XML does not describe: its events go on as they are (none of the
            # interfaces wlcap and OBS bind is missing, so none carries an fd unseen).
            if not requests:
                direction.out.append((bytes(message), []))
            return
        assert interface is not None
        signature = signatures[opcode]
        args = decode(message[_HEADER.size:], signature, None if requests else direction.fds)
        for arg, value in zip(signature.args, args, strict=True):
            if arg.type == "new_id":
                name, new_id = (arg.interface, value) if arg.interface else (value[0], value[2])
                self.objects[new_id] = name
        if interface.name == "wl_display" and signature.name == "delete_id":
            self.objects.pop(args[0], None)
        if requests:
            return
        for event in self._lie(Message(object_id, interface.name, signature.name, args)):
            self._queue_event(event)

    def _queue_event(self, event: Message) -> None:
        interface = self._interfaces[event.interface]
        opcode = next(i for i, s in enumerate(interface.events) if s.name == event.name)
        signature = interface.events[opcode]
        fds = [value for arg, value in zip(signature.args, event.args, strict=True) if arg.type == "fd"]
        self.events.out.append((encode(event.object_id, opcode, signature, event.args), fds))

    def pending(self, sock: socket.socket) -> bool:
        return bool((self.events if sock is self.client else self.requests).out)

    def write(self, sock: socket.socket) -> bool:
        """Send what waits for `sock`, as much as it takes now; False when it closed."""
        out = (self.events if sock is self.client else self.requests).out
        while out:
            batch, fds, count = bytearray(), list[int](), 0
            for data, item_fds in out:  # fds go with the first byte of the batch: never after their message
                if count and (len(fds) + len(item_fds) > MAX_FDS_PER_SEND or len(batch) + len(data) > 65536):
                    break
                batch += data
                fds += item_fds
                count += 1
            ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"<{len(fds)}i", *fds))] if fds else []
            try:
                sent = sock.sendmsg([bytes(batch)], ancillary)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            for fd in fds:
                os.close(fd)  # the receiver has its own copies now
            for _ in range(count):
                out.popleft()
            if sent < len(batch):  # the rest later, its fds gone already
                out.appendleft((bytes(batch[sent:]), []))
                return True
        return True

    def close(self) -> None:
        """One side went away: give the other what it has left (a compositor's last words are its
        protocol error), then close both."""
        for sock in self.sockets():
            if self.pending(sock):
                with contextlib.suppress(OSError):
                    sock.settimeout(1.0)
                    self.write(sock)
        for direction in (self.requests, self.events):
            for fd in [*direction.fds, *(fd for _data, fds in direction.out for fd in fds)]:
                with contextlib.suppress(OSError):
                    os.close(fd)
            direction.fds.clear()
            direction.out.clear()
        self.client.close()
        self.upstream.close()


class WaylandProxy:
    """Listen on a new socket in the compositor's runtime dir; connect each client to the compositor
    through `lie` (a callable making a new Lie for each client; `lie` may be changed between clients).
    Use as a context manager, or start()/stop()."""

    def __init__(self, runtime_dir: Path, upstream: str, lie: Callable[[], Lie] = Lie) -> None:
        self.runtime_dir = Path(runtime_dir)
        self.upstream = upstream
        self.lie = lie
        self.name = f"wlcap-lying-{os.getpid()}-{next(_proxy_names)}"
        self.path = self.runtime_dir / self.name
        self.clients_seen = 0
        self.interfaces = load_interfaces()
        self._listener: socket.socket | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None  # stop() writes, the loop reads
        self._thread: threading.Thread | None = None

    def env(self, env: dict[str, str]) -> dict[str, str]:
        """`env` (a compositor's) with its clients pointed at the proxy."""
        return dict(env, XDG_RUNTIME_DIR=str(self.runtime_dir), WAYLAND_DISPLAY=self.name)

    def start(self) -> WaylandProxy:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        listener.bind(str(self.path))
        listener.listen(16)
        listener.setblocking(False)
        self._listener = listener
        self._wake = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name="wayland-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        assert self._wake is not None
        self._wake[1].send(b"x")
        self._thread.join(10)
        self._thread = None
        for sock in self._wake:
            sock.close()
        if self._listener is not None:
            self._listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> WaylandProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self, clients: dict[socket.socket, _Client]) -> None:
        assert self._listener is not None
        try:
            client, _addr = self._listener.accept()
        except BlockingIOError:
            return
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            upstream.connect(str(self.runtime_dir / self.upstream))
        except OSError:
            client.close()
            upstream.close()
            return
        for sock in (client, upstream):
            sock.setblocking(False)
        self.clients_seen += 1
        pair = _Client(client, upstream, self.interfaces, self.lie())
        clients[client] = clients[upstream] = pair

    def _run(self) -> None:
        assert self._listener is not None and self._wake is not None
        wake = self._wake[0]
        clients: dict[socket.socket, _Client] = {}
        try:
            while True:
                writers = [sock for sock, pair in clients.items() if pair.pending(sock)]
                readable, writable, _ = select.select([wake, self._listener, *clients], writers, [])
                if wake in readable:
                    return
                closed = set()
                for sock in writable:
                    if not clients[sock].write(sock):
                        closed.add(clients[sock])
                for sock in readable:
                    if sock is self._listener:
                        self._accept(clients)
                    elif sock in clients and clients[sock] not in closed and not clients[sock].read(sock):
                        closed.add(clients[sock])
                for pair in list(clients.values()):  # send at once what the reads produced
                    if pair not in closed:
                        for sock in pair.sockets():
                            if pair.pending(sock) and not pair.write(sock):
                                closed.add(pair)
                for pair in closed:
                    for sock in pair.sockets():
                        clients.pop(sock, None)
                    pair.close()
        finally:
            for pair in set(clients.values()):
                pair.close()

