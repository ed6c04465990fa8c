"""An OBS script for the tests, the control for OBS 32's module registry: it registers a source type
from a script with libobs' obs_register_source_s (through ctypes), as wlcap's script did before its
shim became a module. No module claims that type, so libobs calls its state "missing"
(obs_source_load_state) and OBS 32's Sources list draws its sources in red (obs-studio#12966). OBS
32.1 and later claim the types Lua scripts register for the scripting module, so a Lua control would
not show it.

The type has no video or audio: a source of it only has a name in the Sources list. Remove such
sources before OBS exits: once the script is unloaded, nothing answers their callbacks.
"""

from __future__ import annotations

import ctypes
import sys

SOURCE_ID = b"wlcap_script_only_source"
OBS_SOURCE_TYPE_INPUT = 0

GetName = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
Create = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
Destroy = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class SourceInfo(ctypes.Structure):
    """The head of libobs' struct obs_source_info: obs_register_source_s takes a prefix (its size)."""
    _fields_ = [("id", ctypes.c_char_p), ("type", ctypes.c_int), ("output_flags", ctypes.c_uint32),
                ("get_name", GetName), ("create", Create), ("destroy", Destroy)]


NAME = ctypes.create_string_buffer(b"Script-only source (test)")
INSTANCE = ctypes.create_string_buffer(1)  # what create returns: any pointer that is not NULL


def script_description() -> str:
    return "Test: a source type registered by a script alone"


def script_load(settings: object) -> None:
    if hasattr(sys, "_wlcap_script_only_source"):
        return  # registered already (a reload): libobs keeps a type for the life of the process
    info = SourceInfo(SOURCE_ID, OBS_SOURCE_TYPE_INPUT, 0,
                      GetName(lambda type_data: ctypes.addressof(NAME)),
                      Create(lambda settings, source: ctypes.addressof(INSTANCE)),
                      Destroy(lambda data: None))
    sys._wlcap_script_only_source = info  # type: ignore[attr-defined]  # libobs keeps pointing at the callbacks
    libobs = ctypes.CDLL(None)  # the OBS process: libobs is already loaded
    libobs.obs_register_source_s.argtypes = [ctypes.POINTER(SourceInfo), ctypes.c_size_t]
    libobs.obs_register_source_s(ctypes.byref(info), ctypes.sizeof(info))
