"""An OBS script for the tests, loaded beside obs_plugin/wlcap.py: it hands the wlcap source frames
through the shim's own entry point (wlcap_source_publish), as wlcap's capture thread does, some of
them with descriptions that lie about the memory behind them. OBS's render thread must refuse those
and keep showing the last frame that was true.

The plan is the JSON file WLCAP_TEST_FRAMES names: {"frames": [step, ...]}, each step a frame
({"colour": "rrggbb", "width", "height", "stride", "bytes": shm bytes behind it, "damage": [[x, y,
w, h], ...] what it says changed (none: all of it), "wait": seconds after}, or for a DMA-BUF
{"dmabuf": name, ...}: a LINEAR XRGB8888 buffer of that name, allocated at the first step naming
it, `width` x `height` of the step's "allocate": [w, h]). When the plan is done it writes
{"published": n} to the same path + ".done".
"""

from __future__ import annotations

import json
import mmap
import os
import threading
import time
from typing import Any

import obspython  # noqa: F401  (an OBS script)
from wlcap_obs import native

from capture.buffers.formats import DRM_FORMAT_MOD_LINEAR, fourcc
from capture.buffers.native import DmabufMemory, GbmDevice, dmabuf_sync

XRGB8888 = fourcc("XR24")
_kept: list[Any] = []  # memory OBS may still read: kept until the script goes


def _pixels(colour: str, count: int) -> bytes:
    value = int(colour, 16)
    return bytes((value & 0xFF, (value >> 8) & 0xFF, value >> 16, 0xFF)) * count


def _fill(memory: DmabufMemory, colour: str) -> None:
    plane = memory.planes[0]
    dmabuf_sync(plane.fd, start=True, write=True)
    with mmap.mmap(plane.fd, plane.stride * memory.height) as mapping:
        mapping[:] = _pixels(colour, plane.stride * memory.height // 4)
    dmabuf_sync(plane.fd, start=False, write=True)


def _run(plan_path: str) -> None:
    with open(plan_path) as plan_file:
        plan = json.load(plan_file)
    deadline = time.monotonic() + 30
    while not native.live_sources() and time.monotonic() < deadline:
        time.sleep(0.1)
    handle = native.live_sources()[0][0]
    device: GbmDevice | None = None
    buffers: dict[str, DmabufMemory] = {}
    for index, step in enumerate(plan["frames"]):
        desc = native.new_frame_desc()
        desc.token = 1_000_000 + index
        desc.format = XRGB8888
        desc.width, desc.height = step["width"], step["height"]
        if "dmabuf" in step:
            if step["dmabuf"] not in buffers:
                from capture.buffers.dmabuf import nodes_for_device

                device = device or GbmDevice(nodes_for_device(None)[0])
                width, height = step["allocate"]
                buffers[step["dmabuf"]] = device.allocate(width, height, XRGB8888, (DRM_FORMAT_MOD_LINEAR,))
                _fill(buffers[step["dmabuf"]], step["colour"])
            memory = buffers[step["dmabuf"]]
            desc.kind = native.FRAME_DMABUF
            desc.buffer_id = 2_000_000 + list(buffers).index(step["dmabuf"])
            desc.n_planes = 1
            desc.fds[0], desc.offsets[0] = memory.planes[0].fd, memory.planes[0].offset
            desc.strides[0] = step.get("stride", memory.planes[0].stride)
            desc.modifier = memory.modifier
        else:
            data = bytearray(_pixels(step["colour"], step["bytes"] // 4))
            pointer = native.ffi.from_buffer(data)
            _kept.extend((data, pointer))
            desc.kind = native.FRAME_SHM
            desc.buffer_id = 3_000_000 + index
            desc.data, desc.data_size, desc.stride = pointer, len(data), step["stride"]
            damage = step.get("damage", [])
            desc.n_damage = len(damage)
            for rect, (x, y, width, height) in zip(desc.damage, damage, strict=False):
                rect.x, rect.y, rect.width, rect.height = x, y, width, height
        _kept.append(desc)
        handle.publish(desc)
        time.sleep(step.get("wait", 1.0))
    _kept.extend(buffers.values())
    with open(plan_path + ".done", "w") as done:
        json.dump({"published": len(plan["frames"])}, done)


def script_load(settings: Any) -> None:
    threading.Thread(target=_run, args=(os.environ["WLCAP_TEST_FRAMES"],), name="lying-frames", daemon=True).start()
