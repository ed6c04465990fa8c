"""pywayland bindings for the test clients' protocols (xdg-shell, wlr-virtual-pointer), generated from
the XML beside this module when a client starts.

These protocols are the test clients' business, not the capture library's: the library's wheel
carries only what capture speaks. Generating takes a fraction of a second, into a private folder the
process removes at exit, so two clients starting at once never share a half-written module.
"""

from __future__ import annotations

import atexit
import importlib
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from capture.wayland.protocols import generate as capture_protocols

PACKAGE = "wlcap_client_protocols"
XML_DIR = Path(__file__).resolve().parent / "protocols"


def load(protocol: str) -> ModuleType:
    """The generated module of `protocol` (its XML name with underscores: "xdg_shell", "wayland")."""
    if PACKAGE not in sys.modules:
        root = Path(tempfile.mkdtemp(prefix="wlcap-client-protocols-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        # wayland.xml comes from the library: xdg-shell refers to wl_surface, the pointer to wl_output.
        xmls = [capture_protocols.PROTOCOL_DIR / "wayland.xml", *sorted(XML_DIR.glob("*.xml"))]
        capture_protocols.generate(root / PACKAGE, xmls)
        sys.path.insert(0, str(root))
    return importlib.import_module(f"{PACKAGE}.{protocol}")
