/* Before the render thread samples a frame: does its description fit the memory it names? A frame
 * that claims more rows, a wider stride or another layout than its buffer holds would make the GPU
 * (or llvmpipe, on the CPU) read past the buffer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "pixel_formats.h"

struct wlcap_frame_desc; /* obs_source.h, which has no include guard: cffi reads it too */

/* Whether the frame's pixels lie inside its memory: shm, the bytes mapped (data_size); DMA-BUF, each
 * plane's size as the kernel reports it. When not, `why` says how it does not fit. */
bool frame_fits_its_memory(const struct wlcap_frame_desc *frame, const struct pixel_format *format, char *why,
		size_t why_size);

/* Whether a frame describes its buffer as it was when imported (`imported`): size, format,
 * modifier, planes, strides and offsets. A texture imported once per pooled buffer is only right for
 * frames that lay the buffer out the same way. */
bool frame_matches_import(const struct wlcap_frame_desc *frame, const struct wlcap_frame_desc *imported, char *why,
		size_t why_size);
