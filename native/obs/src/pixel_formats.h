/* DRM fourcc -> what OBS needs to upload, import and draw a frame of that format: the one table. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <graphics/graphics.h>

struct pixel_format {
	uint32_t drm;
	enum gs_color_format gs;
	uint32_t bytes_per_pixel;
	bool alpha;         /* false: the X bits hold garbage, so the frame is drawn opaque */
	/* Uploaded from shared memory as they are, the bytes give OBS's texture red and blue the other way
	 * round (OBS has no 10-bit or half-float format with blue in the low bits): the draw swaps them
	 * back. A DMA-BUF import names the fourcc, and EGL reads the channels right. */
	bool swap_red_blue;
	bool srgb;          /* 8 bits a channel: OBS's texture can decode sRGB when sampled */
};

/* NULL for a format OBS cannot show. */
const struct pixel_format *pixel_format_lookup(uint32_t drm_format);
