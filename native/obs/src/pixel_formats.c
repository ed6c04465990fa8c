#include "pixel_formats.h"

#include <stddef.h>

#define FOURCC(a, b, c, d) ((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

/* DRM names a format's channels from the most significant bit down, of a little-endian word; OBS
 * names them in byte (or, for packed formats, bit) order from the lowest up. */
static const struct pixel_format formats[] = {
	{FOURCC('X', 'R', '2', '4'), GS_BGRX, 4, false, false, true},
	{FOURCC('A', 'R', '2', '4'), GS_BGRA, 4, true, false, true},
	{FOURCC('X', 'B', '2', '4'), GS_RGBA, 4, false, false, true},
	{FOURCC('A', 'B', '2', '4'), GS_RGBA, 4, true, false, true},
	/* 10 bits a channel: GS_R10G10B10A2 has red in the low bits, as ABGR2101010 does. */
	{FOURCC('X', 'B', '3', '0'), GS_R10G10B10A2, 4, false, false, false},
	{FOURCC('A', 'B', '3', '0'), GS_R10G10B10A2, 4, true, false, false},
	{FOURCC('X', 'R', '3', '0'), GS_R10G10B10A2, 4, false, true, false},
	{FOURCC('A', 'R', '3', '0'), GS_R10G10B10A2, 4, true, true, false},
	/* Half floats: GS_RGBA16F has red first, as ABGR16161616F does. */
	{FOURCC('X', 'B', '4', 'H'), GS_RGBA16F, 8, false, false, false},
	{FOURCC('A', 'B', '4', 'H'), GS_RGBA16F, 8, true, false, false},
	{FOURCC('X', 'R', '4', 'H'), GS_RGBA16F, 8, false, true, false},
	{FOURCC('A', 'R', '4', 'H'), GS_RGBA16F, 8, true, true, false},
};

const struct pixel_format *pixel_format_lookup(uint32_t drm_format)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (formats[i].drm == drm_format)
			return &formats[i];
	}
	return NULL;
}
