/* The slot between the capture thread and the render thread. The capture thread publishes the
 * newest frame (one it replaces goes back unsampled); the render thread takes it. Every published
 * token comes back exactly once, through `returned`, and the capture thread's eventfd is written
 * when one does. Also the cursor state the capture side hands the render thread.
 *
 * A shared-memory frame is copied into OBS's texture as it is published, on the capture thread,
 * between two of OBS's renders (obs_enter_graphics waits for the render thread's frame to end), and
 * its buffer goes back at once, as OBS's own PipeWire capture copies on its own thread: the render
 * thread's frame only draws it. What the slot then holds of it is its geometry, not its memory. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "damage.h"
#include "source_private.h"

static void wake_capture_thread(struct wlcap_source *src)
{
	if (src->wake_fd >= 0) {
		uint64_t one = 1;
		/* Non-blocking eventfd: a full counter just means it is already awake. */
		ssize_t ignored = write(src->wake_fd, &one, sizeof(one));
		(void)ignored;
	}
}

/* Caller holds lock. Every published token comes through here exactly once. `wake`: the capture
 * thread must be told; false only where the capture thread is the caller. */
static void return_token_waking(struct wlcap_source *src, uint64_t token, enum release_kind kind, bool wake)
{
	struct source_stats *stats = &src->stats;
	_Atomic uint64_t *counters[] = {&stats->releases_unsampled, &stats->releases_copied, &stats->release_fences,
			&stats->releases_implicit, &stats->releases_at_stop};
	stat_add(counters[kind], 1);
	stat_add(&stats->frames_returned, 1);
	if (src->n_returned < MAX_RETURNED) {
		src->returned[src->n_returned++] = token;
	} else {
		/* Cannot happen with a pool of at most 4 buffers; never lose a token silently. */
		wlcap_logf(LOG_ERROR, "returned-token list full, buffer %" PRIu64 " leaks", token);
	}
	if (wake)
		wake_capture_thread(src);
}

static void return_token(struct wlcap_source *src, uint64_t token, enum release_kind kind)
{
	return_token_waking(src, token, kind, true);
}

/* Caller holds lock. The capture thread is the caller and takes what goes back right after: waking
 * it would only cost it another turn of its loop. */
static void put_pending(struct wlcap_source *src, const struct wlcap_frame_desc *frame)
{
	struct wlcap_frame_desc replaced;
	bool replacing = src->has_pending;
	if (replacing) {
		replaced = src->pending;
		if (replaced.kind != WLCAP_FRAME_SHM) /* a copied frame's buffer went back when it was copied */
			return_token_waking(src, replaced.token, RELEASE_UNSAMPLED, false);
		stat_add(&src->stats.frames_dropped, 1);
	}
	src->pending = *frame;
	if (replacing && frame->kind != WLCAP_FRAME_SHM) /* never shown: its changes are still to show */
		damage_merge(&src->pending, &replaced);
	src->has_pending = true;
	stat_add(&src->stats.frames_published, 1);
}

/* Copy a shared-memory frame into the texture and publish it, inside OBS's graphics context so that
 * no render sees the texture and the slot disagree. Lock order: graphics, then lock (as the render
 * thread takes them). */
static bool publish_copied(struct wlcap_source *src, const struct wlcap_frame_desc *frame)
{
	obs_enter_graphics();
	if (!gs_get_context()) { /* OBS has no renderer (any more): nothing can be shown */
		obs_leave_graphics();
		return false;
	}
	pthread_mutex_lock(&src->lock);
	bool destroying = src->destroying;
	pthread_mutex_unlock(&src->lock);
	if (destroying) {
		obs_leave_graphics();
		return false;
	}
	char why[REJECTION_SIZE] = "";
	bool copied = textures_upload_shm(src, frame, why, sizeof(why));
	if (!copied)
		log_refused_frame(src, why);
	pthread_mutex_lock(&src->lock);
	if (copied) {
		stat_add(&src->stats.uploads, 1);
		return_token_waking(src, frame->token, RELEASE_COPIED, false);
		put_pending(src, frame);
		src->pending.data = NULL; /* gone back to the pool: the render thread never reads it */
	} else {
		stat_add(&src->stats.frames_rejected, 1);
		snprintf(src->rejection, sizeof(src->rejection), "%s", why);
		return_token_waking(src, frame->token, RELEASE_UNSAMPLED, false);
	}
	pthread_mutex_unlock(&src->lock);
	obs_leave_graphics();
	return true;
}

bool wlcap_source_publish(struct wlcap_source *src, const struct wlcap_frame_desc *frame)
{
	if (frame->kind == WLCAP_FRAME_SHM)
		return publish_copied(src, frame);
	pthread_mutex_lock(&src->lock);
	bool published = !src->destroying;
	if (published)
		put_pending(src, frame);
	pthread_mutex_unlock(&src->lock);
	return published;
}

size_t wlcap_source_take_returned(struct wlcap_source *src, uint64_t *tokens, size_t max)
{
	pthread_mutex_lock(&src->lock);
	size_t n = src->n_returned < max ? src->n_returned : max;
	memcpy(tokens, src->returned, n * sizeof(*tokens));
	memmove(src->returned, src->returned + n, (src->n_returned - n) * sizeof(*tokens));
	src->n_returned -= n;
	pthread_mutex_unlock(&src->lock);
	return n;
}

void wlcap_source_clear(struct wlcap_source *src)
{
	pthread_mutex_lock(&src->lock);
	while (src->rendering) /* the caller waits for the render thread, never the reverse */
		pthread_cond_wait(&src->render_done, &src->lock);
	if (src->has_pending && src->pending.kind != WLCAP_FRAME_SHM) /* a copied one went back already */
		return_token(src, src->pending.token, RELEASE_UNSAMPLED);
	/* No release fence here: this runs off the render thread, and the caller destroys the pool next,
	 * so no write into the shown buffer can follow OBS's last read of it. */
	if (src->has_shown)
		return_token(src, src->shown.token, RELEASE_AT_STOP);
	src->has_pending = false;
	src->has_shown = false;
	/* The render thread reads has_draw at the start of each render: no import of these frames is
	 * drawn again. */
	src->has_draw = false;
	cursor_state_reset(&src->cursor);
	pthread_mutex_unlock(&src->lock);
	/* The imports of the pool that goes next go now, not when a frame of another pool generation
	 * comes (a new stream's pools count from 1 again, and a source in error or hidden gets none):
	 * else each stream ended by a fault left its pool's memory held. The render thread uses them
	 * only inside the graphics context. */
	obs_enter_graphics();
	if (gs_get_context()) /* OBS has a renderer (still) */
		textures_drop_imports(src);
	obs_leave_graphics();
}

void wlcap_source_set_wake_fd(struct wlcap_source *src, int fd)
{
	pthread_mutex_lock(&src->lock);
	if (src->wake_fd >= 0)
		close(src->wake_fd);
	src->wake_fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	pthread_mutex_unlock(&src->lock);
}

bool wlcap_source_set_cursor_image(struct wlcap_source *src, const uint8_t *pixels, uint32_t width,
		uint32_t height, uint32_t stride, uint32_t format, int32_t hotspot_x, int32_t hotspot_y)
{
	/* A cursor image is copied as it is: only formats OBS samples the right way round. The copy is
	 * made before the lock is taken. */
	const struct pixel_format *cursor_format = pixel_format_lookup(format);
	bool usable = cursor_format && !cursor_format->swap_red_blue && cursor_format->bytes_per_pixel == 4;
	struct cursor_image image;
	if (!usable || !cursor_image_copy(&image, pixels, width, height, stride, cursor_format->gs, hotspot_x,
			hotspot_y))
		return false;
	pthread_mutex_lock(&src->lock);
	cursor_state_set_image(&src->cursor, &image);
	pthread_mutex_unlock(&src->lock);
	return true;
}

void wlcap_source_set_cursor_position(struct wlcap_source *src, bool inside, int32_t x, int32_t y)
{
	pthread_mutex_lock(&src->lock);
	cursor_state_set_position(&src->cursor, inside, x, y);
	pthread_mutex_unlock(&src->lock);
}

void wlcap_source_show_cursor(struct wlcap_source *src, bool shown)
{
	pthread_mutex_lock(&src->lock);
	src->cursor.shown = shown;
	pthread_mutex_unlock(&src->lock);
}

/* ---- the render thread's side ---------------------------------------------------------------- */

void slot_begin_render(struct wlcap_source *src, struct slot_take *take)
{
	pthread_mutex_lock(&src->lock);
	src->rendering = true;
	take->has_frame = src->has_pending;
	if (take->has_frame)
		take->frame = src->pending;
	src->has_pending = false;
	take->had_shown = src->has_shown;
	take->previous = src->shown;
	take->draw = src->has_draw;
	cursor_state_take(&src->cursor, &take->cursor);
	pthread_mutex_unlock(&src->lock);
}

void slot_finish_take(struct wlcap_source *src, struct slot_take *take, gs_texture_t *texture,
		enum release_kind previous_release, const char *why)
{
	const struct wlcap_frame_desc *frame = &take->frame;
	const bool copied = frame->kind == WLCAP_FRAME_SHM; /* its buffer went back when it was copied */
	pthread_mutex_lock(&src->lock);
	if (!texture && *why) { /* refused: the previous frame stays on screen */
		stat_add(&src->stats.frames_rejected, 1);
		snprintf(src->rejection, sizeof(src->rejection), "%s", why);
		if (!copied)
			return_token(src, frame->token, RELEASE_UNSAMPLED);
	} else if (!texture) { /* the import failed: likewise */
		if (frame->kind == WLCAP_FRAME_DMABUF) {
			stat_add(&src->stats.dmabuf_import_failures, 1);
			src->import_failed = true;
			src->failed_format = frame->format;
			src->failed_modifier = frame->modifier;
		}
		if (!copied)
			return_token(src, frame->token, RELEASE_UNSAMPLED);
	} else {
		if (take->had_shown) /* replaced, by a DMA-BUF frame or (leaving DMA-BUF) a copied one */
			return_token(src, take->previous.token, previous_release);
		src->has_shown = false;
		if (!copied) {
			src->shown = *frame;
			src->has_shown = true;
		}
		src->has_draw = true;
		stat_add(&src->stats.frames_shown, 1);
	}
	take->draw = src->has_draw;
	pthread_mutex_unlock(&src->lock);
}

void slot_end_render(struct wlcap_source *src)
{
	pthread_mutex_lock(&src->lock);
	src->rendering = false;
	pthread_cond_broadcast(&src->render_done);
	pthread_mutex_unlock(&src->lock);
}
