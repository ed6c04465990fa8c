"""An OBS script for the tests: reloads another loaded script the way the OBS app's Tools -> Scripts
dialog does, on request, so that a test can press "Reload Scripts" a hundred times.

The dialog's button (frontend-tools' ScriptsTool::ReloadScript in OBS 29) calls
obs_script_reload(script) on Qt's main thread, for the obs_script_t the Scripts tool created from the
scene collection. This script calls that same function, on that same thread, for that same object:

- the object: libobs-scripting gives every Python script's module a `__script_data__` capsule holding
  its struct obs_python_script, whose first member is the obs_script_t (obs-scripting-python.c);
- the thread: obs_queue_task(OBS_TASK_UI, ..., wait=true) runs a task on Qt's main thread, through
  the frontend's ui_task_handler, and returns once it has run. The task is obs_script_reload itself
  (its bool result is not needed: obs_script_loaded says the same afterwards), so no Python is on that
  thread's stack when the reload runs, as with a click.

What the dialog does after the reload, obs_script_get_properties and its properties view, reaches no
wlcap code: wlcap.py has no script_properties, and libobs-scripting answers NULL for it.

Requests come on the Unix socket WLCAP_RELOAD_SOCKET names, one line each, one line answered:
  ping          "ok": the script is listening, and has taken this connection
  reload FILE   reload the loaded script FILE (e.g. wlcap.py): "ok loaded" / "ok not-loaded" / "error ..."
  objects       "ok N": the Python objects the garbage collector tracks, after a full collection
  heap          "ok BYTES": what the process has allocated with malloc and not freed (glibc's mallinfo2,
                every arena, mmapped blocks included): unlike the RSS, not grown by fragmentation
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
import socket
import sys
import threading
from pathlib import Path

import obspython as obs

OBS_TASK_UI = 0  # enum obs_task_type

_stop = threading.Event()
_thread: threading.Thread | None = None


def _libraries() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    """libobs (part of the OBS process) and libobs-scripting (the copy the Scripts tool loaded:
    dlopen of a loaded soname hands back that copy)."""
    libobs = ctypes.CDLL(None)
    scripting = ctypes.CDLL(ctypes.util.find_library("obs-scripting") or "libobs-scripting.so")
    libobs.obs_queue_task.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_bool]
    libobs.obs_queue_task.restype = None
    scripting.obs_script_loaded.argtypes = [ctypes.c_void_p]
    scripting.obs_script_loaded.restype = ctypes.c_bool
    scripting.obs_script_get_path.argtypes = [ctypes.c_void_p]
    scripting.obs_script_get_path.restype = ctypes.c_char_p
    return libobs, scripting


def _script_object(file: str, scripting: ctypes.CDLL) -> int:
    """The obs_script_t of the loaded script FILE: its module's `__script_data__` capsule."""
    module = sys.modules.get(Path(file).stem)
    capsule = getattr(module, "__script_data__", None)
    if capsule is None:
        raise LookupError(f"no loaded OBS script {file}")
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    get_pointer.restype = ctypes.c_void_p
    script = int(get_pointer(capsule, None))
    path = scripting.obs_script_get_path(script) or b""
    if Path(path.decode()).name != file:
        raise LookupError(f"the script object of {file} names {path!r}")
    return script


def reload_script(file: str) -> bool:
    """Reload FILE on Qt's main thread, as the Scripts dialog does; whether it is loaded afterwards."""
    libobs, scripting = _libraries()
    script = _script_object(file, scripting)
    task = ctypes.cast(scripting.obs_script_reload, ctypes.c_void_p)
    libobs.obs_queue_task(OBS_TASK_UI, task, script, True)  # the GIL is released while it runs
    return bool(scripting.obs_script_loaded(script))


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def _heap_in_use() -> int:
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _Mallinfo2
    info = libc.mallinfo2()
    return int(info.uordblks + info.hblkhd)


def _answer(line: str) -> str:
    words = line.split()
    if words == ["ping"]:
        return "ok"
    if words == ["heap"]:
        return f"ok {_heap_in_use()}"
    if words == ["objects"]:
        gc.collect()
        return f"ok {len(gc.get_objects())}"
    if len(words) == 2 and words[0] == "reload":
        try:
            return "ok loaded" if reload_script(words[1]) else "ok not-loaded"
        except (LookupError, OSError, AttributeError) as exc:
            return f"error {exc}"
    return f"error unknown request {line!r}"


def _serve(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        server.settimeout(0.2)  # to notice script_unload
        while not _stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(0.2)
                _serve_connection(connection)


def _serve_connection(connection: socket.socket) -> None:
    pending = b""
    while not _stop.is_set():
        try:
            data = connection.recv(4096)
        except TimeoutError:
            continue
        if not data:
            return
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            connection.sendall((_answer(line.decode()) + "\n").encode())


def script_description() -> str:
    return "Test: reloads a loaded script on request, as Tools -> Scripts' Reload Scripts does"


def script_load(settings: object) -> None:
    global _thread
    path = os.environ.get("WLCAP_RELOAD_SOCKET")
    if not path:
        obs.script_log(obs.LOG_WARNING, "reload_control: WLCAP_RELOAD_SOCKET is not set; nothing to do")
        return
    _stop.clear()
    _thread = threading.Thread(target=_serve, args=(path,), name="reload-control", daemon=True)
    _thread.start()


def script_unload() -> None:
    global _thread
    _stop.set()
    if _thread is not None:
        _thread.join()
        _thread = None
