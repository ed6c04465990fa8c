/* The OBS source's C side, as the Python controller (obs_plugin/wlcap_obs) sees it. Read into cffi's
 * cdef by native/obs/build_obs_ffi.py, and included by the source's C files (native/obs/src/source_private.h). */

/* Source events queued for Python (wlcap_next_event). */
#define WLCAP_EVENT_CREATE 1
#define WLCAP_EVENT_UPDATE 2
#define WLCAP_EVENT_DESTROY 3
#define WLCAP_EVENT_SHOW 4
#define WLCAP_EVENT_HIDE 5

#define WLCAP_FRAME_SHM 0
#define WLCAP_FRAME_DMABUF 1

/* Changed rectangles a frame carries at most; more are sent as their bounding box. */
#define WLCAP_MAX_DAMAGE 16

struct wlcap_rect {
	int32_t x, y, width, height;
};

/* One captured frame handed from the capture thread to the render thread. `token` comes back
 * through wlcap_source_take_returned once OBS no longer needs the buffer. */
struct wlcap_frame_desc {
	uint64_t token;
	uint64_t buffer_id;           /* stable per pooled buffer: DMA-BUF imports are cached by it */
	uint32_t pool_generation;     /* a new value drops every cached import */
	uint32_t kind;                /* WLCAP_FRAME_* */
	uint32_t width, height;       /* buffer size */
	uint32_t format;              /* DRM fourcc */
	const void *data;             /* shm: the pixels */
	uint64_t data_size;           /* shm: how many bytes at data are mapped (the frame must fit) */
	uint32_t stride;              /* shm */
	uint32_t n_planes;            /* dmabuf */
	int fds[4];
	uint32_t strides[4];
	uint32_t offsets[4];
	uint64_t modifier;
	bool y_invert;
	uint32_t transform;           /* enum wl_output_transform */
	int32_t crop_x, crop_y, crop_width, crop_height; /* in upright pixels; crop_width 0: none */
	/* shm: what changed since the frame before it, in buffer pixels; 0 rectangles: all of it (unknown) */
	uint32_t n_damage;
	struct wlcap_rect damage[16];   /* WLCAP_MAX_DAMAGE (cffi's cdef takes no macro as a size) */
};

/* What the render thread measured; read with wlcap_source_get_stats. */
struct wlcap_render_stats {
	uint64_t frames_published;
	uint64_t frames_dropped;      /* replaced in the slot before the render thread took them */
	uint64_t frames_shown;
	uint64_t renders;
	uint64_t render_ns;           /* time inside video_render */
	uint64_t ticks;
	uint64_t tick_ns;             /* time inside video_tick */
	uint64_t uploads;             /* shm frames copied into the dynamic texture (in publish) */
	uint64_t textures_created;    /* dynamic textures created (one per size/format) */
	uint64_t dmabuf_imports;      /* gs_texture_create_from_dmabuf calls that succeeded */
	uint64_t dmabuf_import_failures;
	uint64_t python_frames;       /* frames the Python controller handled */
	uint64_t python_ns;           /* its own time for them (publish and release; not C's copy), capture thread */
	/* Explicit sync (native/obs/src/render_sync.c). */
	uint64_t acquire_waits;       /* the GPU was told to wait for a pending write before drawing */
	uint64_t acquire_signalled;   /* the writes were done already: nothing to wait for */
	/* Every published frame comes back exactly once (frames_returned); how its buffer's next write
	 * is kept from racing OBS's reads: */
	uint64_t releases_unsampled;  /* never read by OBS: replaced in the slot, or could not be used */
	uint64_t releases_copied;     /* shm: copied into OBS's own texture before it came back */
	uint64_t release_fences;      /* DMA-BUF: came back with OBS's read fence attached */
	uint64_t releases_implicit;   /* DMA-BUF: no fence, explicit sync unavailable (implicit sync) */
	uint64_t releases_at_stop;    /* DMA-BUF shown when capture stopped: its pool goes away with it */
	uint64_t frames_returned;
	/* The cursor OBS draws (ext cursor session): images turned into textures, and draws. */
	uint64_t cursor_uploads;
	uint64_t cursor_draws;
	/* Frames the render thread refused to sample: their description did not fit their memory, or
	 * did not match what was imported from their buffer (wlcap_source_last_rejection says why). */
	uint64_t frames_rejected;
	uint64_t upload_pixels;       /* pixels copied into the shm texture: whole frames, or their damage */
	uint32_t width, height;       /* what the source reports to OBS */
};

struct wlcap_source;

/* Register the source type "wlcap_capture" once per process; later calls re-enable it. Either
 * way C forwards source events to Python from now on. */
bool wlcap_obs_register(void);
/* libobs cannot unregister a type: disable it (script unload), and stop calling Python. */
void wlcap_obs_unregister(void);

/* One queued source event (see wlcap_next_event). */
struct wlcap_event_info {
	uint64_t id;
	struct wlcap_source *src;
	int event;                  /* WLCAP_EVENT_* */
	char *settings_json;        /* CREATE and UPDATE; NULL otherwise */
};

/* The Python dispatcher thread takes source events here, in order (waits up to timeout_ms for
 * one; returns 0 when none came), and reports each handled with wlcap_event_done (which also
 * frees settings_json). C never calls into Python. */
int wlcap_next_event(struct wlcap_event_info *out, int timeout_ms);
void wlcap_event_done(uint64_t id, char *settings_json);
/* The outputs the properties dialog lists: "name\tdescription\n" lines. */
void wlcap_set_output_list(const char *list);
/* The windows the properties dialog lists: "app_id\tlabel\n" lines. */
void wlcap_set_window_list(const char *list);
/* OBS's video frame rate (0 when OBS has no video yet): capture never runs faster. */
double wlcap_video_fps(void);

/* Sources of this type that exist now (a reloaded script adopts them), their settings as JSON
 * (returns the full length; at most size bytes are written, no terminator) and how many views
 * show them. */
size_t wlcap_live_sources(struct wlcap_source **out, size_t max);
size_t wlcap_source_settings_json(struct wlcap_source *src, char *buf, size_t size);
int wlcap_source_show_count(struct wlcap_source *src);

/* The capture thread publishes the newest frame; returns false (and takes nothing) if the source
 * is being destroyed. A frame it replaces goes to the returned list without a wake-up: the caller
 * takes it back with wlcap_source_take_returned. A shared-memory frame is copied into OBS's texture
 * here, inside OBS's graphics context (this waits for a render under way to end), and its own token
 * goes to the returned list at once. */
bool wlcap_source_publish(struct wlcap_source *src, const struct wlcap_frame_desc *frame);
/* Tokens of frames OBS is done with (at most max); returns how many were written. */
size_t wlcap_source_take_returned(struct wlcap_source *src, uint64_t *tokens, size_t max);
/* Forget every frame (pending and shown); their tokens go to the returned list. After this returns,
 * the render thread touches none of their memory, and (OBS having a renderer) no import of their pool is held. */
void wlcap_source_clear(struct wlcap_source *src);
/* An eventfd to write to when tokens are returned (the capture thread's wake-up); duplicated. -1: none. */
void wlcap_source_set_wake_fd(struct wlcap_source *src, int fd);
void wlcap_source_set_status(struct wlcap_source *src, const char *status, const char *details);
void wlcap_source_get_stats(struct wlcap_source *src, struct wlcap_render_stats *out);
/* When OBS last ticked the source (CLOCK_MONOTONIC ns; 0 before the first): OBS renders right after
 * each tick, once a frame period; the capture thread times its requests on it. */
uint64_t wlcap_source_last_tick_ns(struct wlcap_source *src);
/* The controller adds the time it spent on frames (reported with the render figures). */
void wlcap_source_add_python_time(struct wlcap_source *src, uint64_t frames, uint64_t ns);
/* Why the render thread last refused a frame (empty: never); the render stats count them. */
void wlcap_source_last_rejection(struct wlcap_source *src, char *why, size_t size);
/* The last failed DMA-BUF import (format, modifier), once; false when there was none since. */
bool wlcap_source_take_import_failure(struct wlcap_source *src, uint32_t *format, uint64_t *modifier);

/* The cursor OBS draws over the frames (CursorMode.SEPARATE): a new image (premultiplied ARGB8888 or
 * ABGR8888, rows of `stride` bytes; copied; false if unusable), the hotspot's position in the frame's
 * buffer pixels and whether it is over the captured area, and the source's "Show cursor" setting,
 * which takes effect at the next render without touching the capture. */
bool wlcap_source_set_cursor_image(struct wlcap_source *src, const uint8_t *pixels, uint32_t width,
		uint32_t height, uint32_t stride, uint32_t format, int32_t hotspot_x, int32_t hotspot_y);
void wlcap_source_set_cursor_position(struct wlcap_source *src, bool inside, int32_t x, int32_t y);
void wlcap_source_show_cursor(struct wlcap_source *src, bool shown);

/* What OBS's renderer can import (call with the graphics context entered, e.g. from the capture
 * thread between obs_enter_graphics/obs_leave_graphics: wlcap_query_dmabuf does that itself).
 * Fills formats (at most max), sets *implicit when implicit modifiers are supported; returns the
 * count, or -1 when OBS has no DMA-BUF support. */
int wlcap_query_dmabuf_formats(uint32_t *formats, size_t max, bool *implicit);
int wlcap_query_dmabuf_modifiers(uint32_t format, uint64_t *modifiers, size_t max);

/* Explicit sync on the render thread: 0 while undecided (no DMA-BUF frame drawn yet), 1 in use,
 * 2 unavailable (implicit sync). `why` gets the mechanism or the reason it is missing. */
int wlcap_sync_status(char *why, size_t size);

/* The step of the release OBS's render thread runs for each returned DMA-BUF, on its own: attach a
 * sync_file to the planes as a read fence, so that a writer waits for it. 0 or an errno. The guest
 * tier drives it with a pending vgem fence, which llvmpipe's own fences never are. */
int wlcap_attach_read_fence(const int *fds, uint32_t n_planes, int fence_fd);

/* Log through OBS's log with wlcap's prefix. level: LOG_ERROR 100, LOG_WARNING 200, LOG_INFO 300. */
void wlcap_log(int level, const char *message);
