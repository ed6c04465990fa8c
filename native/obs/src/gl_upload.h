/* Rectangles of a shared-memory frame into the texture OBS draws it from, through OpenGL directly. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <graphics/graphics.h>

#include "source_private.h" /* obs_source.h has no include guard: cffi reads it too */
#include "pixel_formats.h"

/* Copy `rects` (inside the frame) of the pixels at `data` (`stride` bytes a row) into `texture`. On
 * OBS's render thread, inside its graphics context. False when this renderer cannot (not OpenGL, a
 * format without a GL upload, no GL entry points): then the caller replaces the whole texture. */
bool gl_upload_rects(gs_texture_t *texture, const struct pixel_format *format, const void *data, uint32_t stride,
		const struct wlcap_rect *rects, uint32_t n_rects);
