"""The DMA-BUF fallback ladder: explicit modifiers -> implicit modifier -> LINEAR -> shared memory.

Each failed import, and each DMA-BUF the compositor keeps failing to copy into, steps down once, and
each step is logged once with its reason. The rung decides which modifiers the capture library may
allocate with (CaptureOptions.modifier_filter).
"""

from __future__ import annotations

from enum import IntEnum

from capture.buffers.formats import DRM_FORMAT_MOD_INVALID, DRM_FORMAT_MOD_LINEAR, describe, describe_modifier

from .native import DmabufCapabilities


class Rung(IntEnum):
    EXPLICIT_MODIFIERS = 0
    IMPLICIT_MODIFIER = 1
    LINEAR = 2
    SHM = 3


RUNG_NAMES = {
    Rung.EXPLICIT_MODIFIERS: "DMA-BUF with explicit modifiers",
    Rung.IMPLICIT_MODIFIER: "DMA-BUF with implicit modifier",
    Rung.LINEAR: "DMA-BUF LINEAR",
    Rung.SHM: "shared memory",
}


class FallbackLadder:
    def __init__(self, capabilities: DmabufCapabilities, start: Rung = Rung.EXPLICIT_MODIFIERS) -> None:
        self.capabilities = capabilities
        self.rung = start if capabilities.supported else Rung.SHM
        self.failed: set[tuple[int, int]] = set()  # (format, modifier) that failed to import
        self.history: list[str] = []
        if not capabilities.supported:
            self.history.append("OBS's renderer cannot import DMA-BUFs: using shared memory")

    @property
    def wants_dmabuf(self) -> bool:
        return self.rung is not Rung.SHM

    def _importable(self, drm_format: int) -> set[int]:
        """Modifiers OBS imports for a format, the implicit one included where OBS says so."""
        modifiers = set(self.capabilities.modifiers.get(drm_format, ()))
        if self.capabilities.implicit_modifiers:
            modifiers.add(DRM_FORMAT_MOD_INVALID)
        return modifiers

    def modifiers(self, drm_format: int, offered: tuple[int, ...]) -> tuple[int, ...]:
        """The modifiers to allocate with on the current rung: what the compositor offers, OBS
        imports, and has not failed. An empty offer means the compositor takes an implicit one. A
        rung left with nothing to offer steps down at once (logged like a failure)."""
        offer = set(offered) or {DRM_FORMAT_MOD_INVALID}
        usable = (offer & self._importable(drm_format)) - {m for f, m in self.failed if f == drm_format}
        while self.rung is not Rung.SHM:
            if self.rung is Rung.EXPLICIT_MODIFIERS:
                chosen = usable - {DRM_FORMAT_MOD_INVALID}
            elif self.rung is Rung.IMPLICIT_MODIFIER:
                chosen = usable & {DRM_FORMAT_MOD_INVALID}
            else:
                chosen = usable & {DRM_FORMAT_MOD_LINEAR}
            if chosen:
                return tuple(sorted(chosen))
            self.step_down(f"no {describe(drm_format)} modifier left that both sides accept")
        return ()

    def step_down(self, reason: str, drm_format: int | None = None, modifier: int | None = None) -> str:
        """Leave the current rung; returns the log line (one per step)."""
        if drm_format is not None and modifier is not None:
            self.failed.add((drm_format, modifier))
        previous = self.rung
        self.rung = Rung(min(self.rung + 1, Rung.SHM))
        what = "" if drm_format is None else f" ({describe(drm_format)}, {describe_modifier(modifier or 0)})"
        line = f"{RUNG_NAMES[previous]} failed{what}: {reason}; now {RUNG_NAMES[self.rung]}"
        self.history.append(line)
        return line
