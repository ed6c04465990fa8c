#include "frame_check.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "obs_source.h"

#define DRM_FORMAT_MOD_LINEAR_VALUE 0ULL
#define DRM_FORMAT_MOD_INVALID_VALUE ((1ULL << 56) - 1)
#define MAX_SIDE 16384 /* larger than any texture OBS can create */

/* Bytes from the start of the first row to the end of the last one's pixels. */
static uint64_t span(uint32_t width, uint32_t height, uint32_t stride, uint32_t bytes_per_pixel)
{
	return (uint64_t)stride * (height - 1) + (uint64_t)width * bytes_per_pixel;
}

static bool plane_fits(const struct wlcap_frame_desc *f, uint32_t plane, uint64_t needed, char *why, size_t size)
{
	/* A DMA-BUF's size is what seeking to its end answers. */
	off_t end = lseek(f->fds[plane], 0, SEEK_END);
	if (end < 0) {
		snprintf(why, size, "cannot tell the size of DMA-BUF plane %u", plane);
		return false;
	}
	if ((uint64_t)end < needed) {
		snprintf(why, size, "plane %u would need %" PRIu64 " bytes, the DMA-BUF holds %lld", plane, needed,
				(long long)end);
		return false;
	}
	return true;
}

bool frame_fits_its_memory(const struct wlcap_frame_desc *f, const struct pixel_format *format, char *why,
		size_t why_size)
{
	if (f->width == 0 || f->height == 0 || f->width > MAX_SIDE || f->height > MAX_SIDE) {
		snprintf(why, why_size, "frame size %ux%u", f->width, f->height);
		return false;
	}
	const uint32_t row = f->width * format->bytes_per_pixel;
	if (f->kind == WLCAP_FRAME_SHM) {
		if (f->stride < row) {
			snprintf(why, why_size, "stride %u is shorter than a row of %u pixels (%u bytes)", f->stride,
					f->width, row);
			return false;
		}
		uint64_t needed = span(f->width, f->height, f->stride, format->bytes_per_pixel);
		if (!f->data || f->data_size < needed) {
			snprintf(why, why_size, "%ux%u at stride %u needs %" PRIu64 " bytes, the shared memory holds %" PRIu64,
					f->width, f->height, f->stride, needed, f->data_size);
			return false;
		}
		return true;
	}
	if (f->n_planes < 1 || f->n_planes > 4) {
		snprintf(why, why_size, "%u planes", f->n_planes);
		return false;
	}
	const bool linear = f->modifier == DRM_FORMAT_MOD_LINEAR_VALUE || f->modifier == DRM_FORMAT_MOD_INVALID_VALUE;
	if (f->n_planes == 1 && linear) {
		if (f->strides[0] < row) {
			snprintf(why, why_size, "stride %u is shorter than a row of %u pixels (%u bytes)", f->strides[0],
					f->width, row);
			return false;
		}
		return plane_fits(f, 0, f->offsets[0] + span(f->width, f->height, f->strides[0], format->bytes_per_pixel),
				why, why_size);
	}
	/* Tiled and multi-plane layouts are the driver's to size; their planes must at least start inside. */
	for (uint32_t plane = 0; plane < f->n_planes; plane++) {
		if (!plane_fits(f, plane, (uint64_t)f->offsets[plane] + 1, why, why_size))
			return false;
	}
	return true;
}

bool frame_matches_import(const struct wlcap_frame_desc *f, const struct wlcap_frame_desc *imported, char *why,
		size_t why_size)
{
	if (f->width != imported->width || f->height != imported->height) {
		snprintf(why, why_size, "buffer %" PRIu64 " came as %ux%u, imported as %ux%u", f->buffer_id, f->width,
				f->height, imported->width, imported->height);
		return false;
	}
	if (f->format != imported->format || f->modifier != imported->modifier || f->n_planes != imported->n_planes) {
		snprintf(why, why_size, "buffer %" PRIu64 " changed format, modifier or planes since it was imported",
				f->buffer_id);
		return false;
	}
	for (uint32_t plane = 0; plane < f->n_planes && plane < 4; plane++) {
		if (f->fds[plane] != imported->fds[plane]) {
			snprintf(why, why_size, "buffer %" PRIu64 " plane %u came with another fd than it was imported from",
					f->buffer_id, plane);
			return false;
		}
		if (f->strides[plane] != imported->strides[plane] || f->offsets[plane] != imported->offsets[plane]) {
			snprintf(why, why_size, "buffer %" PRIu64 " plane %u came with stride %u offset %u, imported with %u, %u",
					f->buffer_id, plane, f->strides[plane], f->offsets[plane], imported->strides[plane],
					imported->offsets[plane]);
			return false;
		}
	}
	return true;
}
