/* The "wlcap_capture" OBS source: registration, the frame slot the Python capture thread feeds, and
 * the render-thread work (upload or DMA-BUF import once per pooled buffer, explicit sync around each
 * DMA-BUF frame (render_sync.c), then a draw that applies y_invert, the output transform and the crop
 * on the GPU).
 *
 * Threads: the capture thread (Python) calls wlcap_source_publish/take_returned/clear; OBS's
 * graphics thread calls video_tick/video_render; the UI thread calls create/update/destroy/show/
 * hide/get_properties, which forward to Python (never from the render thread). The render thread
 * only ever waits on `lock`, which the capture thread holds for a struct copy at most. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <obs-module.h>
#include <graphics/matrix4.h>
#include <util/platform.h>

#include "cursor_overlay.h"
#include "frame_check.h"
#include "frame_effect.h"
#include "frame_geometry.h"
#include "obs_source.h"
#include "pixel_formats.h"
#include "render_sync.h"

/* libobs 29 exports this without declaring it in an installed header. */
EXPORT void obs_enable_source_type(const char *name, bool enable);

#define SOURCE_ID "wlcap_capture"
#define DRM_FORMAT_MOD_INVALID_VALUE ((1ULL << 56) - 1)
#define MAX_RETURNED 64
#define MAX_IMPORTS 8

#define wlcap_logf(level, format, ...) blog(level, "[wlcap] " format, ##__VA_ARGS__)

struct imported_texture {
	uint64_t buffer_id;
	gs_texture_t *texture;
	struct wlcap_frame_desc imported; /* the frame it was imported from: later ones must match it */
};

struct wlcap_source {
	obs_source_t *source;
	struct wlcap_source *next_live; /* in live_sources, guarded by live_lock */
	int show_count;                 /* UI thread */
	pthread_mutex_t lock;

	/* Guarded by lock. */
	struct wlcap_frame_desc pending;
	bool has_pending;
	struct wlcap_frame_desc shown; /* the DMA-BUF frame a cached texture draws from */
	bool has_shown;
	uint64_t returned[MAX_RETURNED];
	size_t n_returned;
	int wake_fd;
	bool uploading;               /* the render thread reads a taken frame's memory */
	pthread_cond_t upload_done;
	bool destroying;
	bool import_failed;
	uint32_t failed_format;
	uint64_t failed_modifier;
	char status[512];
	char rejection[256]; /* why the last refused frame was refused */
	struct wlcap_render_stats stats;
	struct cursor_overlay cursor; /* its texture: render thread only */

	/* Render thread only (and destroy, inside the graphics context). */
	gs_texture_t *shm_texture;
	uint32_t shm_width, shm_height, shm_format;
	struct imported_texture imports[MAX_IMPORTS];
	uint32_t import_generation;
	gs_effect_t *effect;        /* frame_effect.c's; created at the first draw */
	bool effect_failed;         /* OBS would not build it (logged): nothing can be drawn */
	char logged_rejection[256]; /* the last refusal the log was told of */
	gs_texture_t *draw_texture; /* what video_render draws: shm_texture or an import */
	struct wlcap_frame_desc draw; /* geometry of the frame draw_texture holds */
	bool has_draw;
};

/* ---- the slot ----------------------------------------------------------------------------- */

static void wake_capture_thread(struct wlcap_source *src)
{
	if (src->wake_fd >= 0) {
		uint64_t one = 1;
		/* Non-blocking eventfd: a full counter just means it is already awake. */
		ssize_t ignored = write(src->wake_fd, &one, sizeof(one));
		(void)ignored;
	}
}

/* How a returned buffer's next write is kept from racing OBS's reads (counted in the stats). */
enum release_kind {
	RELEASE_UNSAMPLED,
	RELEASE_COPIED,
	RELEASE_FENCED,
	RELEASE_IMPLICIT,
	RELEASE_AT_STOP,
};

/* Caller holds lock. Every published token comes through here exactly once. */
static void return_token(struct wlcap_source *src, uint64_t token, enum release_kind kind)
{
	struct wlcap_render_stats *stats = &src->stats;
	uint64_t *counters[] = {&stats->releases_unsampled, &stats->releases_copied, &stats->release_fences,
			&stats->releases_implicit, &stats->releases_at_stop};
	(*counters[kind])++;
	stats->frames_returned++;
	if (src->n_returned < MAX_RETURNED) {
		src->returned[src->n_returned++] = token;
	} else {
		/* Cannot happen with a pool of at most 4 buffers; never lose a token silently. */
		wlcap_logf(LOG_ERROR, "returned-token list full, buffer %" PRIu64 " leaks", token);
	}
	wake_capture_thread(src);
}

bool wlcap_source_publish(struct wlcap_source *src, const struct wlcap_frame_desc *frame)
{
	pthread_mutex_lock(&src->lock);
	if (src->destroying) {
		pthread_mutex_unlock(&src->lock);
		return false;
	}
	if (src->has_pending) {
		return_token(src, src->pending.token, RELEASE_UNSAMPLED);
		src->stats.frames_dropped++;
	}
	src->pending = *frame;
	src->has_pending = true;
	src->stats.frames_published++;
	pthread_mutex_unlock(&src->lock);
	return true;
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
	while (src->uploading) /* the caller waits for the render thread, never the reverse */
		pthread_cond_wait(&src->upload_done, &src->lock);
	if (src->has_pending)
		return_token(src, src->pending.token, RELEASE_UNSAMPLED);
	/* No release fence here: this runs off the render thread, and the caller destroys the pool next,
	 * so no write into the shown buffer can follow OBS's last read of it. */
	if (src->has_shown)
		return_token(src, src->shown.token, RELEASE_AT_STOP);
	src->has_pending = false;
	src->has_shown = false;
	/* The render thread checks has_shown/has_draw under the lock before it draws an import. */
	src->has_draw = false;
	cursor_overlay_reset(&src->cursor);
	pthread_mutex_unlock(&src->lock);
}

bool wlcap_source_set_cursor_image(struct wlcap_source *src, const uint8_t *pixels, uint32_t width,
		uint32_t height, uint32_t stride, uint32_t format, int32_t hotspot_x, int32_t hotspot_y)
{
	pthread_mutex_lock(&src->lock);
	/* A cursor image is copied as it is: only formats OBS samples the right way round. */
	const struct pixel_format *cursor_format = pixel_format_lookup(format);
	bool usable = cursor_format && !cursor_format->swap_red_blue && cursor_format->bytes_per_pixel == 4;
	bool kept = usable && cursor_overlay_set_image(&src->cursor, pixels, width, height, stride, cursor_format->gs,
			hotspot_x, hotspot_y);
	pthread_mutex_unlock(&src->lock);
	return kept;
}

void wlcap_source_set_cursor_position(struct wlcap_source *src, bool inside, int32_t x, int32_t y)
{
	pthread_mutex_lock(&src->lock);
	cursor_overlay_set_position(&src->cursor, inside, x, y);
	pthread_mutex_unlock(&src->lock);
}

void wlcap_source_show_cursor(struct wlcap_source *src, bool shown)
{
	pthread_mutex_lock(&src->lock);
	src->cursor.shown = shown;
	pthread_mutex_unlock(&src->lock);
}

void wlcap_source_set_wake_fd(struct wlcap_source *src, int fd)
{
	pthread_mutex_lock(&src->lock);
	if (src->wake_fd >= 0)
		close(src->wake_fd);
	src->wake_fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	pthread_mutex_unlock(&src->lock);
}

void wlcap_source_set_status(struct wlcap_source *src, const char *status)
{
	pthread_mutex_lock(&src->lock);
	snprintf(src->status, sizeof(src->status), "%s", status);
	pthread_mutex_unlock(&src->lock);
}

void wlcap_source_get_stats(struct wlcap_source *src, struct wlcap_render_stats *out)
{
	pthread_mutex_lock(&src->lock);
	*out = src->stats;
	pthread_mutex_unlock(&src->lock);
}

void wlcap_source_add_python_time(struct wlcap_source *src, uint64_t frames, uint64_t ns)
{
	pthread_mutex_lock(&src->lock);
	src->stats.python_frames += frames;
	src->stats.python_ns += ns;
	pthread_mutex_unlock(&src->lock);
}

/* "get_stats" on the source's proc handler: the figures for benchmarks and tools, through OBS's
 * own mechanism (proc_handler_call), so that no caller needs wlcap's headers. */
static void get_stats_proc(void *data, calldata_t *cd)
{
	struct wlcap_render_stats stats;
	wlcap_source_get_stats(data, &stats);
	calldata_set_int(cd, "frames_published", (long long)stats.frames_published);
	calldata_set_int(cd, "frames_dropped", (long long)stats.frames_dropped);
	calldata_set_int(cd, "frames_shown", (long long)stats.frames_shown);
	calldata_set_int(cd, "renders", (long long)stats.renders);
	calldata_set_int(cd, "render_ns", (long long)stats.render_ns);
	calldata_set_int(cd, "ticks", (long long)stats.ticks);
	calldata_set_int(cd, "tick_ns", (long long)stats.tick_ns);
	calldata_set_int(cd, "uploads", (long long)stats.uploads);
	calldata_set_int(cd, "textures_created", (long long)stats.textures_created);
	calldata_set_int(cd, "dmabuf_imports", (long long)stats.dmabuf_imports);
	calldata_set_int(cd, "dmabuf_import_failures", (long long)stats.dmabuf_import_failures);
	calldata_set_int(cd, "python_frames", (long long)stats.python_frames);
	calldata_set_int(cd, "python_ns", (long long)stats.python_ns);
	calldata_set_int(cd, "acquire_waits", (long long)stats.acquire_waits);
	calldata_set_int(cd, "acquire_signalled", (long long)stats.acquire_signalled);
	calldata_set_int(cd, "releases_unsampled", (long long)stats.releases_unsampled);
	calldata_set_int(cd, "releases_copied", (long long)stats.releases_copied);
	calldata_set_int(cd, "release_fences", (long long)stats.release_fences);
	calldata_set_int(cd, "releases_implicit", (long long)stats.releases_implicit);
	calldata_set_int(cd, "releases_at_stop", (long long)stats.releases_at_stop);
	calldata_set_int(cd, "frames_returned", (long long)stats.frames_returned);
	calldata_set_int(cd, "cursor_uploads", (long long)stats.cursor_uploads);
	calldata_set_int(cd, "cursor_draws", (long long)stats.cursor_draws);
	calldata_set_int(cd, "frames_rejected", (long long)stats.frames_rejected);
}

void wlcap_source_last_rejection(struct wlcap_source *src, char *why, size_t size)
{
	pthread_mutex_lock(&src->lock);
	snprintf(why, size, "%s", src->rejection);
	pthread_mutex_unlock(&src->lock);
}

bool wlcap_source_take_import_failure(struct wlcap_source *src, uint32_t *format, uint64_t *modifier)
{
	pthread_mutex_lock(&src->lock);
	bool failed = src->import_failed;
	*format = src->failed_format;
	*modifier = src->failed_modifier;
	src->import_failed = false;
	pthread_mutex_unlock(&src->lock);
	return failed;
}

int wlcap_sync_status(char *why, size_t size)
{
	return render_sync_status(why, size);
}

int wlcap_attach_read_fence(const int *fds, uint32_t n_planes, int fence_fd)
{
	return render_sync_attach_read_fence(fds, n_planes, fence_fd);
}

void wlcap_log(int level, const char *message)
{
	wlcap_logf(level, "%s", message);
}

/* ---- DMA-BUF capabilities ------------------------------------------------------------------- */

/* Copy at most max entries of a list OBS allocated into out and free it; -1 if the query failed. */
static int take_list(void *out, void *list, size_t n, size_t max, size_t entry_size, bool ok)
{
	size_t count = n < max ? n : max;
	if (ok)
		memcpy(out, list, count * entry_size);
	bfree(list);
	return ok ? (int)count : -1;
}

int wlcap_query_dmabuf_formats(uint32_t *formats, size_t max, bool *implicit)
{
	enum gs_dmabuf_flags flags = GS_DMABUF_FLAG_NONE;
	uint32_t *list = NULL;
	size_t n = 0;
	obs_enter_graphics();
	bool ok = gs_query_dmabuf_capabilities(&flags, &list, &n);
	obs_leave_graphics();
	*implicit = flags & GS_DMABUF_FLAG_IMPLICIT_MODIFIERS_SUPPORTED;
	return take_list(formats, list, n, max, sizeof(*formats), ok);
}

int wlcap_query_dmabuf_modifiers(uint32_t format, uint64_t *modifiers, size_t max)
{
	uint64_t *list = NULL;
	size_t n = 0;
	obs_enter_graphics();
	bool ok = gs_query_dmabuf_modifiers_for_format(format, &list, &n);
	obs_leave_graphics();
	return take_list(modifiers, list, n, max, sizeof(*modifiers), ok);
}

/* ---- render thread ------------------------------------------------------------------------ */

static void drop_imports(struct wlcap_source *src)
{
	for (int i = 0; i < MAX_IMPORTS; i++) {
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

/* A texture for the frame, or NULL: then `why` is set if the frame was refused (it does not fit its
 * memory, or not what was imported from its buffer) and empty if the import itself failed. */
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
	pthread_mutex_lock(&src->lock);
	src->stats.dmabuf_imports++;
	pthread_mutex_unlock(&src->lock);
	return texture;
}

static gs_texture_t *upload_shm(struct wlcap_source *src, const struct wlcap_frame_desc *frame,
		const struct pixel_format *format, char *why, size_t why_size)
{
	if (!frame_fits_its_memory(frame, format, why, why_size))
		return NULL;
	if (!src->shm_texture || src->shm_width != frame->width || src->shm_height != frame->height ||
			src->shm_format != frame->format) {
		gs_texture_destroy(src->shm_texture);
		src->shm_texture = gs_texture_create(frame->width, frame->height, format->gs, 1, NULL, GS_DYNAMIC);
		src->shm_width = frame->width;
		src->shm_height = frame->height;
		src->shm_format = frame->format;
		pthread_mutex_lock(&src->lock);
		src->stats.textures_created++;
		pthread_mutex_unlock(&src->lock);
		if (!src->shm_texture)
			return NULL;
	}
	gs_texture_set_image(src->shm_texture, frame->data, frame->stride, false);
	return src->shm_texture;
}

/* A frame the render thread will not sample: counted, its reason kept for the status line and
 * logged when it differs from the last one logged (a source sending bad frames does so every
 * frame). Caller holds lock. */
static void reject_frame(struct wlcap_source *src, const struct wlcap_frame_desc *frame, const char *why)
{
	src->stats.frames_rejected++;
	snprintf(src->rejection, sizeof(src->rejection), "%s", why);
	if (strcmp(why, src->logged_rejection) != 0) {
		snprintf(src->logged_rejection, sizeof(src->logged_rejection), "%s", why);
		wlcap_logf(LOG_WARNING, "frame not shown: %s", why);
	}
	return_token(src, frame->token, RELEASE_UNSAMPLED);
}

/* The fences around a DMA-BUF frame's use, on the render thread. Acquire before its first draw;
 * release once it is replaced, which is after its last draw: the release fence covers every command
 * issued so far, that draw included. Returns how the previous buffer comes back. */
static enum release_kind sync_frames(struct wlcap_source *src, const struct wlcap_frame_desc *frame,
		const struct wlcap_frame_desc *previous)
{
	if (frame) {
		enum render_sync_result acquired = render_sync_acquire(frame->fds, frame->n_planes);
		if (acquired != RENDER_SYNC_FAILED) {
			pthread_mutex_lock(&src->lock);
			if (acquired == RENDER_SYNC_QUEUED)
				src->stats.acquire_waits++;
			else
				src->stats.acquire_signalled++;
			pthread_mutex_unlock(&src->lock);
		}
	}
	if (!previous)
		return RELEASE_UNSAMPLED;
	return render_sync_release(previous->fds, previous->n_planes) == RENDER_SYNC_QUEUED ? RELEASE_FENCED
			: RELEASE_IMPLICIT;
}

/* Turn the newest published frame into a texture. The upload (or import) and the fence work run
 * without the lock, so that the capture thread never waits for them to publish; `uploading` keeps
 * wlcap_source_clear from letting the frames' memory go meanwhile. Caller holds lock. */
static void take_pending(struct wlcap_source *src)
{
	if (!src->has_pending)
		return;
	struct wlcap_frame_desc frame = src->pending;
	src->has_pending = false;
	const struct pixel_format *format = pixel_format_lookup(frame.format);
	char why[sizeof(src->rejection)] = "";
	if (!format) {
		snprintf(why, sizeof(why), "pixel format 0x%08x, which OBS cannot show", frame.format);
		reject_frame(src, &frame, why);
		return;
	}
	/* The DMA-BUF frame drawn until now; it goes back once this one is in place. */
	const bool had_shown = src->has_shown;
	const struct wlcap_frame_desc previous = src->shown;
	src->uploading = true;
	pthread_mutex_unlock(&src->lock);
	gs_texture_t *texture = frame.kind == WLCAP_FRAME_SHM ? upload_shm(src, &frame, format, why, sizeof(why))
			: import_dmabuf(src, &frame, format, why, sizeof(why));
	enum release_kind previous_release = RELEASE_UNSAMPLED;
	if (texture)
		previous_release = sync_frames(src, frame.kind == WLCAP_FRAME_DMABUF ? &frame : NULL,
				had_shown ? &previous : NULL);
	pthread_mutex_lock(&src->lock);
	src->uploading = false;
	pthread_cond_broadcast(&src->upload_done);

	if (!texture && *why) {
		reject_frame(src, &frame, why);
		return; /* the previous frame stays on screen */
	}
	if (!texture) {
		if (frame.kind == WLCAP_FRAME_DMABUF) {
			src->stats.dmabuf_import_failures++;
			src->import_failed = true;
			src->failed_format = frame.format;
			src->failed_modifier = frame.modifier;
		}
		return_token(src, frame.token, RELEASE_UNSAMPLED);
		return; /* the previous frame stays on screen */
	}
	if (had_shown) /* replaced, by a DMA-BUF frame or (leaving DMA-BUF) a copied one */
		return_token(src, previous.token, previous_release);
	src->has_shown = false;
	if (frame.kind == WLCAP_FRAME_SHM) {
		src->stats.uploads++;
		return_token(src, frame.token, RELEASE_COPIED); /* copied: it can be written again */
	} else {
		src->shown = frame;
		src->has_shown = true;
	}
	src->draw_texture = texture;
	src->draw = frame;
	src->has_draw = true;
	src->stats.frames_shown++;
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
	/* Our own 8-bit textures decode sRGB when sampled and the framebuffer encodes it again (exact).
	 * Deeper formats have no sRGB view in OBS, and a texture imported from a DMA-BUF has none on every
	 * driver (llvmpipe's sampled the raw values, and the encode brightened them): copy their values
	 * through unconverted. */
	const bool srgb = uploaded && format->srgb;
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

static void wlcap_video_render(void *data, gs_effect_t *unused)
{
	UNUSED_PARAMETER(unused);
	struct wlcap_source *src = data;
	uint64_t start = os_gettime_ns();
	pthread_mutex_lock(&src->lock);
	take_pending(src);
	if (src->has_draw && src->draw_texture) {
		frame_size(&src->draw, &src->stats.width, &src->stats.height);
		struct frame_geometry geometry;
		frame_geometry_compute(&src->draw, &geometry);
		draw_frame(src, &geometry);
		cursor_overlay_draw(&src->cursor, &geometry);
		src->stats.cursor_uploads = src->cursor.uploads;
		src->stats.cursor_draws = src->cursor.draws;
	}
	src->stats.renders++;
	src->stats.render_ns += os_gettime_ns() - start;
	pthread_mutex_unlock(&src->lock);
}

static void wlcap_video_tick(void *data, float seconds)
{
	UNUSED_PARAMETER(seconds);
	struct wlcap_source *src = data;
	uint64_t start = os_gettime_ns();
	pthread_mutex_lock(&src->lock);
	/* The size OBS lays the source out with follows the newest frame before it is drawn. */
	if (src->has_pending)
		frame_size(&src->pending, &src->stats.width, &src->stats.height);
	src->stats.ticks++;
	src->stats.tick_ns += os_gettime_ns() - start;
	pthread_mutex_unlock(&src->lock);
}

/* ---- UI-thread callbacks -------------------------------------------------------------------- */

static const char *wlcap_get_name(void *type_data)
{
	UNUSED_PARAMETER(type_data);
	return "Wayland Capture (wlcap)";
}

/* Every source of this type that exists, so that a reloaded script can adopt them. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wlcap_source *live_sources;
#define LISTING_SIZE 8192
static char output_list[LISTING_SIZE]; /* "name\tdescription\n" lines, kept fresh by Python */
static char window_list[LISTING_SIZE]; /* "app_id\tlabel\n" lines (ext-foreign-toplevel-list), likewise */

/* Source events go to Python through a queue that one Python thread (the dispatcher) drains. C
 * never calls into Python itself: OBS calls create/update/show/hide/destroy on whatever thread it
 * likes (obs-websocket's pool threads, the destruction thread), and Python state made on a thread
 * that later exits corrupted the heap at that thread's exit. */
struct pending_event {
	struct pending_event *next;
	uint64_t id;
	struct wlcap_source *src;
	int event;
	char *settings_json;
};

static pthread_mutex_t event_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t event_cond = PTHREAD_COND_INITIALIZER;
static struct pending_event *event_head, *event_tail;
static uint64_t last_event_id, done_event_id;
/* False between script unload and the next load: nobody drains the queue then. */
static bool python_attached;

#define DESTROY_WAIT_MS 10000

/* pthread_cond_timedwait takes a CLOCK_REALTIME deadline. */
static struct timespec realtime_in(int ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	uint64_t ns = (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec + (uint64_t)ms * 1000000ULL;
	t.tv_sec = (time_t)(ns / 1000000000ULL);
	t.tv_nsec = (long)(ns % 1000000000ULL);
	return t;
}

static void free_events_locked(void)
{
	while (event_head) {
		struct pending_event *e = event_head;
		event_head = e->next;
		bfree(e->settings_json);
		bfree(e);
	}
	event_tail = NULL;
	done_event_id = last_event_id;
	pthread_cond_broadcast(&event_cond);
}

/* Queue an event for Python; with `wait`, return once Python handled it (or gave up the queue).
 * Returns false when a wait timed out. */
static bool post_event(struct wlcap_source *src, int event, obs_data_t *settings, bool wait)
{
	pthread_mutex_lock(&event_lock);
	if (!python_attached) {
		pthread_mutex_unlock(&event_lock);
		return true;
	}
	struct pending_event *e = bzalloc(sizeof(*e));
	e->id = ++last_event_id;
	e->src = src;
	e->event = event;
	e->settings_json = settings ? bstrdup(obs_data_get_json(settings)) : NULL;
	if (event_tail)
		event_tail->next = e;
	else
		event_head = e;
	event_tail = e;
	pthread_cond_broadcast(&event_cond);
	bool done = true;
	uint64_t id = e->id; /* e belongs to the dispatcher once the lock is dropped */
	if (wait) {
		struct timespec until = realtime_in(DESTROY_WAIT_MS);
		while (done_event_id < id && python_attached) {
			if (pthread_cond_timedwait(&event_cond, &event_lock, &until) == ETIMEDOUT) {
				done = done_event_id >= id || !python_attached;
				break;
			}
		}
	}
	pthread_mutex_unlock(&event_lock);
	return done;
}

int wlcap_next_event(struct wlcap_event_info *out, int timeout_ms)
{
	pthread_mutex_lock(&event_lock);
	if (!event_head && timeout_ms > 0) {
		struct timespec until = realtime_in(timeout_ms);
		pthread_cond_timedwait(&event_cond, &event_lock, &until);
	}
	struct pending_event *e = event_head;
	if (e) {
		event_head = e->next;
		if (!event_head)
			event_tail = NULL;
		out->id = e->id;
		out->src = e->src;
		out->event = e->event;
		out->settings_json = e->settings_json; /* freed by wlcap_event_done */
		bfree(e);
	}
	pthread_mutex_unlock(&event_lock);
	return e != NULL;
}

void wlcap_event_done(uint64_t id, char *settings_json)
{
	bfree(settings_json);
	pthread_mutex_lock(&event_lock);
	if (id > done_event_id)
		done_event_id = id;
	pthread_cond_broadcast(&event_cond);
	pthread_mutex_unlock(&event_lock);
}

void wlcap_set_output_list(const char *list)
{
	pthread_mutex_lock(&live_lock);
	snprintf(output_list, sizeof(output_list), "%s", list);
	pthread_mutex_unlock(&live_lock);
}

void wlcap_set_window_list(const char *list)
{
	pthread_mutex_lock(&live_lock);
	snprintf(window_list, sizeof(window_list), "%s", list);
	pthread_mutex_unlock(&live_lock);
}

double wlcap_video_fps(void)
{
	struct obs_video_info ovi;
	if (!obs_get_video_info(&ovi) || !ovi.fps_den)
		return 0.0;
	return (double)ovi.fps_num / ovi.fps_den;
}

size_t wlcap_live_sources(struct wlcap_source **out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&live_lock);
	for (struct wlcap_source *src = live_sources; src && n < max; src = src->next_live)
		out[n++] = src;
	pthread_mutex_unlock(&live_lock);
	return n;
}

size_t wlcap_source_settings_json(struct wlcap_source *src, char *buf, size_t size)
{
	obs_data_t *settings = obs_source_get_settings(src->source);
	const char *json = settings ? obs_data_get_json(settings) : "{}";
	size_t length = strlen(json);
	size_t n = length < size ? length : size;
	memcpy(buf, json, n);
	obs_data_release(settings);
	return length;
}

int wlcap_source_show_count(struct wlcap_source *src)
{
	return src->show_count;
}

static void *wlcap_create(obs_data_t *settings, obs_source_t *source)
{
	struct wlcap_source *src = bzalloc(sizeof(*src));
	src->source = source;
	src->wake_fd = -1;
	pthread_mutex_init(&src->lock, NULL);
	pthread_cond_init(&src->upload_done, NULL);
	snprintf(src->status, sizeof(src->status), "starting");
	pthread_mutex_lock(&live_lock);
	src->next_live = live_sources;
	live_sources = src;
	pthread_mutex_unlock(&live_lock);
	proc_handler_add(obs_source_get_proc_handler(source),
			"void get_stats(out int frames_published, out int frames_dropped, out int frames_shown, "
			"out int renders, out int render_ns, out int ticks, out int tick_ns, out int uploads, "
			"out int textures_created, out int dmabuf_imports, out int dmabuf_import_failures, "
			"out int python_frames, out int python_ns, out int acquire_waits, out int acquire_signalled, "
			"out int releases_unsampled, out int releases_copied, out int release_fences, "
			"out int releases_implicit, out int releases_at_stop, "
			"out int frames_returned, out int cursor_uploads, out int cursor_draws, out int frames_rejected)",
			get_stats_proc, src);
	post_event(src, WLCAP_EVENT_CREATE, settings, false);
	return src;
}

static void wlcap_destroy(void *data)
{
	struct wlcap_source *src = data;
	pthread_mutex_lock(&live_lock);
	for (struct wlcap_source **link = &live_sources; *link; link = &(*link)->next_live) {
		if (*link == src) {
			*link = src->next_live;
			break;
		}
	}
	pthread_mutex_unlock(&live_lock);
	/* Python stops the capture thread first: after this nothing publishes or waits on us. */
	if (!post_event(src, WLCAP_EVENT_DESTROY, NULL, true)) {
		/* Python is stuck: freeing the source under a live capture thread would crash OBS. */
		wlcap_logf(LOG_ERROR, "capture did not stop in time; leaking the source's state");
		pthread_mutex_lock(&src->lock);
		src->destroying = true;
		pthread_mutex_unlock(&src->lock);
		return;
	}
	pthread_mutex_lock(&src->lock);
	src->destroying = true;
	pthread_mutex_unlock(&src->lock);
	obs_enter_graphics();
	drop_imports(src);
	gs_texture_destroy(src->shm_texture);
	gs_effect_destroy(src->effect);
	cursor_overlay_free(&src->cursor);
	obs_leave_graphics();
	if (src->wake_fd >= 0)
		close(src->wake_fd);
	pthread_cond_destroy(&src->upload_done);
	pthread_mutex_destroy(&src->lock);
	bfree(src);
}

static void wlcap_update(void *data, obs_data_t *settings)
{
	post_event(data, WLCAP_EVENT_UPDATE, settings, false);
}

static void wlcap_show(void *data)
{
	struct wlcap_source *src = data;
	src->show_count++;
	post_event(src, WLCAP_EVENT_SHOW, NULL, false);
}

static void wlcap_hide(void *data)
{
	struct wlcap_source *src = data;
	if (src->show_count > 0)
		src->show_count--;
	post_event(src, WLCAP_EVENT_HIDE, NULL, false);
}

static uint32_t wlcap_get_width(void *data)
{
	struct wlcap_source *src = data;
	pthread_mutex_lock(&src->lock);
	uint32_t width = src->stats.width;
	pthread_mutex_unlock(&src->lock);
	return width;
}

static uint32_t wlcap_get_height(void *data)
{
	struct wlcap_source *src = data;
	pthread_mutex_lock(&src->lock);
	uint32_t height = src->stats.height;
	pthread_mutex_unlock(&src->lock);
	return height;
}

static void wlcap_get_defaults(obs_data_t *settings)
{
	obs_data_set_default_string(settings, "output", "");
	obs_data_set_default_bool(settings, "cursor", false);
	obs_data_set_default_string(settings, "cursor_drawing", "obs");
	obs_data_set_default_string(settings, "backend", "auto");
	obs_data_set_default_string(settings, "region", "");
	obs_data_set_default_string(settings, "target", "output");
	obs_data_set_default_string(settings, "window", "");
	obs_data_set_default_string(settings, "protocol", "auto");
}

/* Fill a list property from one of the "value\tlabel\n" listings Python keeps fresh. The value the
 * source has set for `key` stays selectable while it is not listed, labelled "VALUE (`absent`)", so
 * that capture resumes when it comes back. `with_value`: label entries "VALUE: LABEL". */
static void add_listed(obs_property_t *list, const char *shared_listing, struct wlcap_source *src,
		const char *key, bool with_value, const char *absent)
{
	char listing[LISTING_SIZE];
	pthread_mutex_lock(&live_lock);
	memcpy(listing, shared_listing, sizeof(listing));
	pthread_mutex_unlock(&live_lock);
	const char *current = "";
	obs_data_t *settings = src ? obs_source_get_settings(src->source) : NULL;
	if (settings)
		current = obs_data_get_string(settings, key);
	bool current_listed = false;
	char *rest = NULL;
	for (char *line = strtok_r(listing, "\n", &rest); line; line = strtok_r(NULL, "\n", &rest)) {
		char *tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab = '\0';
		const char *label = tab + 1;
		char joined[512];
		if (with_value) {
			snprintf(joined, sizeof(joined), "%s: %s", line, tab + 1);
			label = joined;
		}
		obs_property_list_add_string(list, label, line);
		current_listed |= strcmp(line, current) == 0;
	}
	if (*current && !current_listed) {
		char label[512];
		snprintf(label, sizeof(label), "%s (%s)", current, absent);
		obs_property_list_add_string(list, label, current);
	}
	obs_data_release(settings);
}

/* The window list: windows are remembered by app id, so that capture resumes when the application
 * opens a window again. */
static void add_window_properties(obs_properties_t *props, struct wlcap_source *src)
{
	obs_property_t *target = obs_properties_add_list(props, "target", "Capture", OBS_COMBO_TYPE_LIST,
			OBS_COMBO_FORMAT_STRING);
	obs_property_list_add_string(target, "An output", "output");
	obs_property_list_add_string(target, "A window (ext-image-copy-capture)", "window");
	obs_property_t *window = obs_properties_add_list(props, "window", "Window", OBS_COMBO_TYPE_LIST,
			OBS_COMBO_FORMAT_STRING);
	add_listed(window, window_list, src, "window", false, "not open");
	obs_property_t *protocol = obs_properties_add_list(props, "protocol", "Protocol", OBS_COMBO_TYPE_LIST,
			OBS_COMBO_FORMAT_STRING);
	obs_property_list_add_string(protocol, "Automatic (ext-image-copy-capture, else wlr-screencopy)", "auto");
	obs_property_list_add_string(protocol, "ext-image-copy-capture-v1", "ext");
	obs_property_list_add_string(protocol, "wlr-screencopy", "wlr");
}

static obs_properties_t *wlcap_get_properties(void *data)
{
	struct wlcap_source *src = data;
	obs_properties_t *props = obs_properties_create();

	add_window_properties(props, src);
	obs_property_t *output = obs_properties_add_list(props, "output", "Output", OBS_COMBO_TYPE_LIST,
			OBS_COMBO_FORMAT_STRING);
	obs_property_list_add_string(output, "First output", "");
	add_listed(output, output_list, src, "output", true, "not connected"); /* remembered while unplugged */

	obs_properties_add_bool(props, "cursor", "Show cursor");
	obs_property_t *drawing = obs_properties_add_list(props, "cursor_drawing", "Cursor drawn by",
			OBS_COMBO_TYPE_LIST, OBS_COMBO_FORMAT_STRING);
	obs_property_list_add_string(drawing, "OBS (cursor session: shown or hidden without a new capture)", "obs");
	obs_property_list_add_string(drawing, "The compositor (painted into each frame)", "compositor");
	obs_property_t *backend = obs_properties_add_list(props, "backend", "Buffers", OBS_COMBO_TYPE_LIST,
			OBS_COMBO_FORMAT_STRING);
	obs_property_list_add_string(backend, "Automatic (DMA-BUF, else shared memory)", "auto");
	obs_property_list_add_string(backend, "DMA-BUF only", "dmabuf");
	obs_property_list_add_string(backend, "Shared memory only", "shm");
	obs_properties_add_text(props, "region", "Region (\"X,Y WxH\", empty: whole output)", OBS_TEXT_DEFAULT);

	char status[600] = "Status: -";
	if (src) {
		pthread_mutex_lock(&src->lock);
		snprintf(status, sizeof(status), "Status: %s", src->status);
		pthread_mutex_unlock(&src->lock);
	}
	obs_properties_add_text(props, "status", status, OBS_TEXT_INFO);
	return props;
}

static struct obs_source_info wlcap_source_info = {
	.id = SOURCE_ID,
	.type = OBS_SOURCE_TYPE_INPUT,
	.output_flags = OBS_SOURCE_VIDEO | OBS_SOURCE_CUSTOM_DRAW | OBS_SOURCE_SRGB | OBS_SOURCE_DO_NOT_DUPLICATE,
	.get_name = wlcap_get_name,
	.create = wlcap_create,
	.destroy = wlcap_destroy,
	.update = wlcap_update,
	.show = wlcap_show,
	.hide = wlcap_hide,
	.get_width = wlcap_get_width,
	.get_height = wlcap_get_height,
	.get_defaults = wlcap_get_defaults,
	.get_properties = wlcap_get_properties,
	.video_tick = wlcap_video_tick,
	.video_render = wlcap_video_render,
	.icon_type = OBS_ICON_TYPE_DESKTOP_CAPTURE,
};

static bool registered;

bool wlcap_obs_register(void)
{
	pthread_mutex_lock(&event_lock);
	python_attached = true;
	pthread_mutex_unlock(&event_lock);
	if (registered) {
		obs_enable_source_type(SOURCE_ID, true);
		wlcap_logf(LOG_INFO, "source type %s enabled again", SOURCE_ID);
		return true;
	}
	obs_register_source(&wlcap_source_info);
	registered = true;
	wlcap_logf(LOG_INFO, "registered source type %s", SOURCE_ID);
	return true;
}

void wlcap_obs_unregister(void)
{
	pthread_mutex_lock(&event_lock);
	python_attached = false;
	free_events_locked(); /* and wake anyone waiting for Python */
	pthread_mutex_unlock(&event_lock);
	if (registered) {
		obs_enable_source_type(SOURCE_ID, false);
		wlcap_logf(LOG_INFO, "source type %s disabled (script unloaded)", SOURCE_ID);
	}
}
