/* The textures frames are drawn from: a DMA-BUF is imported once per pooled buffer (by buffer_id,
 * within one pool generation), on the render thread, and drawn from until its pool goes; a
 * shared-memory frame is copied, as it is published (frame_slot.c, on the capture thread inside
 * OBS's graphics context), into one dynamic texture, made again only when the size or format
 * changes, and of a frame only what changed since the one the texture holds is copied (its damage). */
#include <stdlib.h>

#include "damage.h"
#include "frame_check.h"
#include "gl_upload.h"
#include "source_private.h"

#define DRM_FORMAT_MOD_INVALID_VALUE ((1ULL << 56) - 1)

static void drop_imports(struct wlcap_source *src)
{
	for (int i = 0; i < MAX_IMPORTS; i++) {
		if (src->draw_texture && src->draw_texture == src->imports[i].texture)
			src->draw_texture = NULL; /* never drawn after it is destroyed */
		gs_texture_destroy(src->imports[i].texture);
		src->imports[i].texture = NULL;
		src->imports[i].buffer_id = 0;
	}
}

/* Fault injection for the fallback ladder's test: WLCAP_TEST_REJECT_MODIFIER=<modifier> (0x... or
 * decimal) makes every import of a buffer with that modifier fail, as a driver that cannot import it
 * would. Read once per import, which happens once per pooled buffer. */
static bool rejected_for_test(uint64_t modifier)
{
	const char *value = getenv("WLCAP_TEST_REJECT_MODIFIER");
	return value && *value && strtoull(value, NULL, 0) == modifier;
}

static gs_texture_t *import_dmabuf(struct wlcap_source *src, const struct wlcap_frame_desc *frame,
		const struct pixel_format *format, char *why, size_t why_size)
{
	if (frame->pool_generation != src->import_generation) {
		drop_imports(src);
		src->import_generation = frame->pool_generation;
	}
	struct imported_texture *free_slot = NULL;
	for (int i = 0; i < MAX_IMPORTS; i++) {
		struct imported_texture *slot = &src->imports[i];
		if (slot->texture && slot->buffer_id == frame->buffer_id)
			return frame_matches_import(frame, &slot->imported, why, why_size) ? slot->texture : NULL;
		if (!slot->texture && !free_slot)
			free_slot = slot;
	}
	if (!frame_fits_its_memory(frame, format, why, why_size))
		return NULL;
	if (!free_slot) { /* more buffers than a pool holds: start over */
		drop_imports(src);
		free_slot = &src->imports[0];
	}
	if (rejected_for_test(frame->modifier))
		return NULL;
	uint64_t modifiers[4] = {frame->modifier, frame->modifier, frame->modifier, frame->modifier};
	gs_texture_t *texture = gs_texture_create_from_dmabuf(frame->width, frame->height, frame->format, format->gs,
			frame->n_planes, frame->fds, frame->strides, frame->offsets,
			frame->modifier == DRM_FORMAT_MOD_INVALID_VALUE ? NULL : modifiers);
	if (!texture)
		return NULL;
	free_slot->buffer_id = frame->buffer_id;
	free_slot->texture = texture;
	free_slot->imported = *frame;
	stat_add(&src->stats.dmabuf_imports, 1);
	return texture;
}

static bool copy_shm(struct wlcap_source *src, const struct wlcap_frame_desc *frame, char *why, size_t why_size)
{
	const struct pixel_format *format = pixel_format_lookup(frame->format);
	if (!format) {
		snprintf(why, why_size, "pixel format 0x%08x, which OBS cannot show", frame->format);
		return false;
	}
	if (!frame_fits_its_memory(frame, format, why, why_size))
		return false;
	if (!src->shm_texture || src->shm_width != frame->width || src->shm_height != frame->height ||
			src->shm_format != frame->format) {
		if (src->draw_texture == src->shm_texture)
			src->draw_texture = NULL;
		gs_texture_destroy(src->shm_texture);
		src->shm_texture = gs_texture_create(frame->width, frame->height, format->gs, 1, NULL, GS_DYNAMIC);
		src->shm_width = frame->width;
		src->shm_height = frame->height;
		src->shm_format = frame->format;
		stat_add(&src->stats.textures_created, 1);
		src->shm_texture_stale = true; /* a new texture holds nothing yet */
		if (!src->shm_texture) {
			snprintf(why, why_size, "OBS could not make a %ux%u texture", frame->width, frame->height);
			return false;
		}
	}
	/* The frame's damage is relative to the frame before it, which the texture holds unless a frame
	 * in between never reached it (stale). A y-inverted frame's damage is not flipped: all of it. */
	struct wlcap_rect rects[WLCAP_MAX_DAMAGE];
	uint32_t n_rects = 0;
	uint64_t pixels = 0;
	if (!src->shm_texture_stale && !frame->y_invert && damage_clipped(frame, rects, &n_rects) &&
			gl_upload_rects(src->shm_texture, format, frame->data, frame->stride, rects, n_rects)) {
		for (uint32_t i = 0; i < n_rects; i++)
			pixels += (uint64_t)rects[i].width * (uint64_t)rects[i].height;
	} else {
		gs_texture_set_image(src->shm_texture, frame->data, frame->stride, false);
		pixels = (uint64_t)frame->width * frame->height;
	}
	src->shm_texture_stale = false;
	stat_add(&src->stats.upload_pixels, pixels);
	return true;
}

bool textures_upload_shm(struct wlcap_source *src, const struct wlcap_frame_desc *frame, char *why, size_t why_size)
{
	bool copied = copy_shm(src, frame, why, why_size);
	if (!copied) /* the next frame's damage leaves out this one's changes */
		src->shm_texture_stale = true;
	return copied;
}

gs_texture_t *textures_for_frame(struct wlcap_source *src, const struct wlcap_frame_desc *frame,
		const struct pixel_format *format, char *why, size_t why_size)
{
	/* A shared-memory frame is in its texture already, unless a later one's could not be made. */
	return frame->kind == WLCAP_FRAME_SHM ? src->shm_texture : import_dmabuf(src, frame, format, why, why_size);
}

void textures_drop_imports(struct wlcap_source *src)
{
	drop_imports(src);
}

void textures_free(struct wlcap_source *src)
{
	drop_imports(src);
	gs_texture_destroy(src->shm_texture);
	src->shm_texture = NULL;
	src->draw_texture = NULL;
}
