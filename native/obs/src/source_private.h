/* The "wlcap_capture" OBS source's own state, shared by the files that make it, one job each:
 *
 *   source.c       the obs_source_info callbacks, registration, the live sources
 *   module.c       the shim as an OBS module: the type is registered through libobs' module loader
 *   events.c       source events queued for the Python dispatcher (C never calls into Python)
 *   frame_slot.c   the newest-wins frame slot, returned tokens, the wake fd, the cursor handed over
 *   render.c       video_render and video_tick: take from the slot, texture, fences, draw
 *   textures.c     DMA-BUF import once per pooled buffer, shared-memory copy (from publish)
 *   properties.c   the properties dialog, the output and window listings, the status line
 *   stats.c        the render figures (and get_stats on the proc handler), what went wrong last
 *   dmabuf_caps.c  what OBS's renderer can import, and explicit sync's state
 *
 * Threads: the capture thread (Python) publishes frames (copying a shared-memory one into its texture
 * inside OBS's graphics context, between renders), takes returned tokens, clears, and sets the
 * cursor and the status; OBS's graphics thread calls video_tick and video_render; create, update,
 * show, hide, destroy, get_properties, get_width and get_height come on whatever thread OBS likes.
 *
 * Locking: `lock` guards the slot and the small fields marked below. Nobody holds it across a GPU
 * call, a texture upload or a wait: the render thread takes what it needs under it (the newest
 * frame, a copy of the cursor state, whether there is a frame to draw) and puts the outcome back
 * under it, and does the import, fences and draws in between without it; the capture thread copies
 * a shared-memory frame without it too. Whoever needs both takes OBS's graphics context first, then
 * the lock. `rendering` (set from the first to the last of those) is what lets wlcap_source_clear
 * wait until the render thread reads none of the frames' memory any more; the capture thread waits
 * for the render thread there, never the reverse. The figures are atomics, written without the lock
 * (relaxed: they are counts). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <obs-module.h>

#include "cursor_overlay.h"
#include "obs_source.h"
#include "pixel_formats.h"

#define wlcap_logf(level, format, ...) blog(level, "[wlcap] " format, ##__VA_ARGS__)
/* Text the user reads, in OBS's language: obs_module_text looks `key` up in the module's
 * locale/<language>.ini (obs_plugin/wlcap_obs/locale; en-US where a language has none). */
#define T(key) obs_module_text(key)

#define SOURCE_ID "wlcap_capture"
#define MAX_RETURNED 64
#define MAX_IMPORTS 8
#define REJECTION_SIZE 256

/* The counters of struct wlcap_render_stats (obs_source.h), by name. */
#define WLCAP_STATS_COUNTERS(X) \
	X(frames_published) X(frames_dropped) X(frames_shown) X(renders) X(render_ns) X(ticks) X(tick_ns) \
	X(uploads) X(textures_created) X(dmabuf_imports) X(dmabuf_import_failures) X(python_frames) \
	X(python_ns) X(acquire_waits) X(acquire_signalled) X(releases_unsampled) X(releases_copied) \
	X(release_fences) X(releases_implicit) X(releases_at_stop) X(frames_returned) X(cursor_uploads) \
	X(cursor_draws) X(frames_rejected) X(upload_pixels)

struct source_stats {
#define WLCAP_STATS_FIELD(name) _Atomic uint64_t name;
	WLCAP_STATS_COUNTERS(WLCAP_STATS_FIELD)
#undef WLCAP_STATS_FIELD
	_Atomic uint32_t width, height; /* what the source reports to OBS: graphics thread writes, any reads */
};

static inline void stat_add(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

struct imported_texture {
	uint64_t buffer_id;
	gs_texture_t *texture;
	struct wlcap_frame_desc imported; /* the frame it was imported from: later ones must match it */
};

struct wlcap_source {
	obs_source_t *source;
	struct wlcap_source *next_live; /* source.c's list of live sources, under its own lock */
	atomic_int show_count;          /* views showing the source (show/hide come on any thread) */
	pthread_mutex_t lock;

	/* Guarded by lock. */
	struct wlcap_frame_desc pending; /* the newest published frame, not taken yet */
	bool has_pending;
	struct wlcap_frame_desc shown;   /* the DMA-BUF frame a cached texture draws from */
	bool has_shown;
	bool has_draw;                   /* a frame to draw (false after a clear, until the next one) */
	uint64_t returned[MAX_RETURNED];
	size_t n_returned;
	int wake_fd;
	bool rendering;                  /* the render thread works on what it took, without the lock */
	pthread_cond_t render_done;
	bool destroying;
	bool import_failed;
	uint32_t failed_format;
	uint64_t failed_modifier;
	char status[512];  /* the line the dialog shows first: what it captures, or what went wrong */
	char details[512]; /* how: shown in the Advanced group */
	char rejection[REJECTION_SIZE];  /* why the last refused frame was refused */
	struct cursor_state cursor;

	struct source_stats stats;       /* atomics */
	atomic_uint_least64_t last_tick_ns; /* OBS's last video_tick (os_gettime_ns): the capture paces on it */

	/* Inside OBS's graphics context only, which serialises the threads that use them: the render
	 * thread, the capture thread copying a frame into shm_texture (publish), and destroy. */
	gs_texture_t *shm_texture;
	uint32_t shm_width, shm_height, shm_format;
	bool shm_texture_stale;          /* a frame it missed changed the picture: the next upload is whole */
	struct imported_texture imports[MAX_IMPORTS];
	uint32_t import_generation;
	gs_effect_t *effect;             /* frame_effect.c's; created at the first draw */
	bool effect_failed;              /* OBS would not build it (logged): nothing can be drawn */
	char logged_rejection[REJECTION_SIZE]; /* the last refusal the log was told of */
	gs_texture_t *draw_texture;      /* what video_render draws: shm_texture or an import */
	struct wlcap_frame_desc draw;    /* geometry of the frame draw_texture holds */
	struct cursor_overlay cursor_overlay;
};

/* How a returned buffer's next write is kept from racing OBS's reads (counted in the stats). */
enum release_kind {
	RELEASE_UNSAMPLED,
	RELEASE_COPIED,
	RELEASE_FENCED,
	RELEASE_IMPLICIT,
	RELEASE_AT_STOP,
};

/* ---- frame_slot.c: the render thread's side of the slot ---- */

/* What the render thread took out of the slot, to work on without the lock. */
struct slot_take {
	bool has_frame;                  /* a newly published frame to show */
	struct wlcap_frame_desc frame;
	bool had_shown;                  /* the DMA-BUF frame drawn until now: back once `frame` is in place */
	struct wlcap_frame_desc previous;
	bool draw;                       /* whether there is a frame to draw (after the take) */
	struct cursor_state cursor;      /* the cursor to draw, and its new image if one came */
};

/* Start a render: mark it under way, take the newest frame and a copy of the cursor state. */
void slot_begin_render(struct wlcap_source *src, struct slot_take *take);
/* Put back how the taken frame went: shown with `texture`, or refused (`why` set), or its import
 * failed (`why` empty); the frame replaced goes back as `previous_release` says. Updates take->draw. */
void slot_finish_take(struct wlcap_source *src, struct slot_take *take, gs_texture_t *texture,
		enum release_kind previous_release, const char *why);
/* The render is over: wlcap_source_clear may let the frames' memory go. */
void slot_end_render(struct wlcap_source *src);

/* ---- source.c, module.c ---- */

/* obs_register_source with wlcap's source info (from module.c's obs_module_load, or directly). */
void wlcap_register_source_type(void);
/* Register the type through libobs' module loader, as this library's; false: not done (logged). */
bool wlcap_module_register(void);

/* ---- events.c ---- */

/* Queue an event for Python; with `wait`, return once Python handled it (or gave up the queue).
 * Returns false when a wait timed out. */
bool events_post(struct wlcap_source *src, int event, obs_data_t *settings, bool wait);
/* Python drains the queue from now on (script load) / no longer (script unload: queued events go). */
void events_attach(void);
void events_detach(void);

/* ---- render.c ---- */

void wlcap_video_render(void *data, gs_effect_t *effect);
/* Log why a frame was refused, when the reason differs from the last one logged (graphics context). */
void log_refused_frame(struct wlcap_source *src, const char *why);
void wlcap_video_tick(void *data, float seconds);

/* ---- textures.c (graphics context entered) ---- */

/* Copy a shared-memory frame (its damage, where the texture holds the frame before it) into
 * shm_texture; false, with `why`, when it cannot be shown. Capture thread, from publish. */
bool textures_upload_shm(struct wlcap_source *src, const struct wlcap_frame_desc *frame, char *why, size_t why_size);

/* A texture holding the frame, or NULL: then `why` says why the frame was refused (it does not fit
 * its memory, or not what was imported from its buffer), or is empty if the import failed. A
 * shared-memory frame's is shm_texture, copied in publish. Render thread. */
gs_texture_t *textures_for_frame(struct wlcap_source *src, const struct wlcap_frame_desc *frame,
		const struct pixel_format *format, char *why, size_t why_size);
/* Destroy the DMA-BUF imports (graphics context entered): their pool is going. */
void textures_drop_imports(struct wlcap_source *src);
/* Destroy every texture (graphics context entered). */
void textures_free(struct wlcap_source *src);

/* ---- properties.c ---- */

void wlcap_get_defaults(obs_data_t *settings);
obs_properties_t *wlcap_get_properties(void *data);

/* ---- stats.c ---- */

/* Add "get_stats" to the source's proc handler. */
void stats_add_proc(struct wlcap_source *src);
