/* OBS's graphics thread: video_tick, and video_render, which takes the newest frame from the slot,
 * finds or makes its texture (textures.c), puts the fences around it (render_sync.c), and draws it with
 * y_invert, the output transform and the crop applied on the GPU, the cursor over it. The lock is
 * held only to take from the slot and to put the outcome back (frame_slot.c): the capture thread's
 * publish never waits for an import, a fence or a draw (a shared-memory frame's copy waits for the
 * render under way to end, and then happens outside OBS's frame). */
#include <stdio.h>
#include <string.h>

#include <graphics/matrix4.h>
#include <util/platform.h>

#include "frame_effect.h"
#include "frame_geometry.h"
#include "render_sync.h"
#include "source_private.h"

/* The fences around a DMA-BUF frame's use. Acquire before its first draw; release once it is
 * replaced, which is after its last draw: the release fence covers every command issued so far, that
 * draw included. Returns how the previous buffer comes back. */
static enum release_kind sync_frames(struct wlcap_source *src, const struct wlcap_frame_desc *frame,
		const struct wlcap_frame_desc *previous)
{
	if (frame) {
		enum render_sync_result acquired = render_sync_acquire(frame->fds, frame->n_planes);
		if (acquired == RENDER_SYNC_QUEUED)
			stat_add(&src->stats.acquire_waits, 1);
		else if (acquired == RENDER_SYNC_SIGNALLED)
			stat_add(&src->stats.acquire_signalled, 1);
	}
	if (!previous)
		return RELEASE_UNSAMPLED;
	return render_sync_release(previous->fds, previous->n_planes) == RENDER_SYNC_QUEUED ? RELEASE_FENCED
			: RELEASE_IMPLICIT;
}

/* A source sending bad frames does so every frame: log a reason when it differs from the last one
 * logged (the stats count them all, and the status line shows the last). */
void log_refused_frame(struct wlcap_source *src, const char *why)
{
	if (strcmp(why, src->logged_rejection) != 0) {
		snprintf(src->logged_rejection, sizeof(src->logged_rejection), "%s", why);
		wlcap_logf(LOG_WARNING, "frame not shown: %s", why);
	}
}

/* Turn the frame taken from the slot into the texture to draw; on failure the previous frame stays. */
static void show_frame(struct wlcap_source *src, struct slot_take *take)
{
	const struct wlcap_frame_desc *frame = &take->frame;
	const struct pixel_format *format = pixel_format_lookup(frame->format);
	char why[REJECTION_SIZE] = "";
	gs_texture_t *texture = NULL;
	enum release_kind previous_release = RELEASE_UNSAMPLED;
	if (!format)
		snprintf(why, sizeof(why), "pixel format 0x%08x, which OBS cannot show", frame->format);
	else
		texture = textures_for_frame(src, frame, format, why, sizeof(why));
	if (texture)
		previous_release = sync_frames(src, frame->kind == WLCAP_FRAME_DMABUF ? frame : NULL,
				take->had_shown ? &take->previous : NULL);
	slot_finish_take(src, take, texture, previous_release, why);
	if (texture) {
		src->draw_texture = texture;
		src->draw = *frame;
	} else if (*why) {
		log_refused_frame(src, why);
	}
}

static void draw_frame(struct wlcap_source *src, const struct frame_geometry *geometry)
{
	const struct wlcap_frame_desc *f = &src->draw;
	const float bx = geometry->bx, by = geometry->by, bw = geometry->bw, bh = geometry->bh;
	/* Sprite coordinates (0..bw, 0..bh) -> buffer (+bx, +by) -> source. */
	struct matrix4 matrix;
	affine_to_matrix4(affine_then((struct affine){1, 0, 0, 1, bx, by}, geometry->buffer_to_source), &matrix);

	if (!src->effect && !src->effect_failed) {
		src->effect = frame_effect_create();
		src->effect_failed = !src->effect;
	}
	if (!src->effect)
		return;
	const struct pixel_format *format = pixel_format_lookup(f->format);
	const bool uploaded = f->kind == WLCAP_FRAME_SHM;
	gs_eparam_t *image = gs_effect_get_param_by_name(src->effect, "image");
	const bool previous_srgb = gs_framebuffer_srgb_enabled();
	/* Our own 8-bit textures blend and filter in linear light where OBS asks for it (gs_get_linear_srgb):
	 * decoded from sRGB when sampled, encoded again by the framebuffer. Where OBS draws the source pixel
	 * for pixel (texcoords centred: every draw here is a right-angle turn, flip or integer crop) and the
	 * format is opaque, decoding and encoding again gives back the same values: skip both. They cost
	 * nothing on a GPU; on llvmpipe, OBS's render CPU a frame at 1280x720 went from 30.7 to 21.9 ms
	 * without them (tools/bench/peer_bench.py, small screen).
	 * Deeper formats have no sRGB view in OBS, and a texture imported from a DMA-BUF has none on every
	 * driver (llvmpipe's sampled the raw values, and the encode brightened them): copy their values
	 * through unconverted. */
	const bool exact_either_way = !format->alpha && obs_source_get_texcoords_centered(src->source);
	const bool srgb = uploaded && format->srgb && gs_get_linear_srgb() && !exact_either_way;
	gs_enable_framebuffer_srgb(srgb);
	if (srgb)
		gs_effect_set_texture_srgb(image, src->draw_texture);
	else
		gs_effect_set_texture(image, src->draw_texture);
	const char *technique = frame_effect_technique(uploaded && format->swap_red_blue, !format->alpha);
	gs_matrix_push();
	gs_matrix_mul(&matrix);
	while (gs_effect_loop(src->effect, technique))
		gs_draw_sprite_subregion(src->draw_texture, 0, (uint32_t)bx, (uint32_t)by, (uint32_t)bw, (uint32_t)bh);
	gs_matrix_pop();
	gs_enable_framebuffer_srgb(previous_srgb);
}

static void set_size(struct wlcap_source *src, const struct wlcap_frame_desc *frame)
{
	uint32_t width, height;
	frame_size(frame, &width, &height);
	atomic_store_explicit(&src->stats.width, width, memory_order_relaxed);
	atomic_store_explicit(&src->stats.height, height, memory_order_relaxed);
}

void wlcap_video_render(void *data, gs_effect_t *unused)
{
	UNUSED_PARAMETER(unused);
	struct wlcap_source *src = data;
	uint64_t start = os_gettime_ns();
	struct slot_take take;
	slot_begin_render(src, &take);
	if (take.has_frame)
		show_frame(src, &take);
	if (cursor_overlay_update(&src->cursor_overlay, &take.cursor))
		stat_add(&src->stats.cursor_uploads, 1);
	if (take.draw && src->draw_texture) {
		set_size(src, &src->draw);
		struct frame_geometry geometry;
		frame_geometry_compute(&src->draw, &geometry);
		draw_frame(src, &geometry);
		if (cursor_overlay_draw(&src->cursor_overlay, &take.cursor, &geometry))
			stat_add(&src->stats.cursor_draws, 1);
	}
	slot_end_render(src);
	stat_add(&src->stats.renders, 1);
	stat_add(&src->stats.render_ns, os_gettime_ns() - start);
}

uint64_t wlcap_source_last_tick_ns(struct wlcap_source *src)
{
	return atomic_load(&src->last_tick_ns);
}

void wlcap_video_tick(void *data, float seconds)
{
	UNUSED_PARAMETER(seconds);
	struct wlcap_source *src = data;
	uint64_t start = os_gettime_ns();
	atomic_store(&src->last_tick_ns, start);
	/* The size OBS lays the source out with follows the newest frame before it is drawn. */
	pthread_mutex_lock(&src->lock);
	bool has_pending = src->has_pending;
	struct wlcap_frame_desc pending = src->pending;
	pthread_mutex_unlock(&src->lock);
	if (has_pending)
		set_size(src, &pending);
	stat_add(&src->stats.ticks, 1);
	stat_add(&src->stats.tick_ns, os_gettime_ns() - start);
}
