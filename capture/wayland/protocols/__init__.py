"""Protocol bindings generated from the XML files in this folder (see generate.py).

Everything imports protocol classes from here, so a checkout that was never built fails with one
clear message instead of an ImportError deep inside the library.
"""

from __future__ import annotations

try:
    from ._generated.ext_foreign_toplevel_list_v1 import ExtForeignToplevelListV1
    from ._generated.ext_image_capture_source_v1 import (
        ExtForeignToplevelImageCaptureSourceManagerV1,
        ExtOutputImageCaptureSourceManagerV1,
    )
    from ._generated.ext_image_copy_capture_v1 import ExtImageCopyCaptureManagerV1
    from ._generated.linux_dmabuf_unstable_v1 import ZwpLinuxBufferParamsV1, ZwpLinuxDmabufV1
    from ._generated.wayland import WlOutput, WlSeat, WlShm
    from ._generated.wlr_screencopy_unstable_v1 import ZwlrScreencopyFrameV1, ZwlrScreencopyManagerV1
    from ._generated.xdg_output_unstable_v1 import ZxdgOutputManagerV1
except ImportError as exc:  # pragma: no cover - only in an unbuilt checkout
    raise ImportError(
        "wlcap's protocol modules are not generated: install with `pip install .`, "
        "or run `python capture/wayland/protocols/generate.py` in a source checkout"
    ) from exc

__all__ = [
    "ExtForeignToplevelImageCaptureSourceManagerV1",
    "ExtForeignToplevelListV1",
    "ExtImageCopyCaptureManagerV1",
    "ExtOutputImageCaptureSourceManagerV1",
    "WlOutput",
    "WlSeat",
    "WlShm",
    "ZwlrScreencopyFrameV1",
    "ZwlrScreencopyManagerV1",
    "ZwpLinuxBufferParamsV1",
    "ZwpLinuxDmabufV1",
    "ZxdgOutputManagerV1",
]
