/* What the benchmarks measure inside the OBS host, the same way for every source whoever wrote it
 * (wlcap, OBS's own PipeWire capture, a colour source):
 *
 * - every source type's video_render, timed: obs_register_source_s is wrapped, so a type a module or
 *   script registers gets a timing trampoline around its callback (its code is untouched);
 * - how long threads other than OBS's render thread hold the graphics context (obs_enter_graphics to
 *   obs_leave_graphics: an upload done there still stops OBS's renderer);
 * - texture imports from DMA-BUF and texture creations and uploads through libobs;
 * - one output pixel per composed frame with its timestamps, for latency (`watch`, `marks`).
 *
 * The wrappers work because obs_host is linked with -rdynamic: a module's or libobs' own call to an
 * exported libobs function binds to the executable's definition first; the real one comes from
 * dlsym(RTLD_NEXT). */
#define _GNU_SOURCE
#define obs_register_source_s obs_register_source_s_declared
#include <obs.h>
#include <obs-module.h>
#undef obs_register_source_s
#include <util/platform.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "probes.h"

/* The libobs function a wrapper stands for, looked up once per call site. */
#define REAL(name)                                                   \
	({                                                           \
		static __typeof__(&name) real_;                      \
		if (!real_)                                          \
			real_ = (__typeof__(&name))real_symbol(#name); \
		real_;                                               \
	})

static void *real_symbol(const char *name)
{
	void *symbol = dlsym(RTLD_NEXT, name);
	if (!symbol) {
		fprintf(stderr, "obs_host: no %s in libobs\n", name);
		abort();
	}
	return symbol;
}

/* -- video_render of each registered type ------------------------------------------------------- */

#define TIMED_TYPES 16
typedef void (*render_fn)(void *data, gs_effect_t *effect);

static struct {
	char id[64];
	render_fn render;
	atomic_llong calls, ns;
} timed[TIMED_TYPES];
static int n_timed;

static void timed_render(int slot, void *data, gs_effect_t *effect)
{
	uint64_t start = os_gettime_ns();
	timed[slot].render(data, effect);
	atomic_fetch_add(&timed[slot].ns, (long long)(os_gettime_ns() - start));
	atomic_fetch_add(&timed[slot].calls, 1);
}

#define TRAMPOLINE(n) \
	static void render_##n(void *data, gs_effect_t *effect) { timed_render(n, data, effect); }
TRAMPOLINE(0) TRAMPOLINE(1) TRAMPOLINE(2) TRAMPOLINE(3) TRAMPOLINE(4) TRAMPOLINE(5) TRAMPOLINE(6)
TRAMPOLINE(7) TRAMPOLINE(8) TRAMPOLINE(9) TRAMPOLINE(10) TRAMPOLINE(11) TRAMPOLINE(12) TRAMPOLINE(13)
TRAMPOLINE(14) TRAMPOLINE(15)
static const render_fn trampolines[TIMED_TYPES] = {render_0, render_1, render_2, render_3, render_4,
		render_5, render_6, render_7, render_8, render_9, render_10, render_11, render_12, render_13,
		render_14, render_15};

void obs_register_source_s(const struct obs_source_info *info, size_t size)
{
	struct obs_source_info copy;
	memset(&copy, 0, sizeof(copy));
	memcpy(&copy, info, size < sizeof(copy) ? size : sizeof(copy));
	/* The id sources are created with: libobs adds "_vN" to a type registered with a version. */
	char id[sizeof(timed[0].id)];
	if (copy.version)
		snprintf(id, sizeof(id), "%s_v%u", info->id, copy.version);
	else
		snprintf(id, sizeof(id), "%s", info->id);
	/* Registered again (a reloaded script): keep its slot, time the new callback. */
	int slot = 0;
	while (slot < n_timed && strcmp(timed[slot].id, id) != 0)
		slot++;
	if (copy.video_render && slot < TIMED_TYPES) {
		if (slot == n_timed)
			snprintf(timed[n_timed++].id, sizeof(timed[0].id), "%s", id);
		timed[slot].render = copy.video_render;
		copy.video_render = trampolines[slot];
	}
	REAL(obs_register_source_s)(&copy, size < sizeof(copy) ? size : sizeof(copy));
}

/* -- the graphics context held outside the render thread ----------------------------------------- */

static _Thread_local int graphics_depth;
static _Thread_local uint64_t graphics_since;
static atomic_llong graphics_ns, graphics_entries;

void obs_enter_graphics(void)
{
	REAL(obs_enter_graphics)();
	if (graphics_depth++ == 0)
		graphics_since = os_gettime_ns();
}

void obs_leave_graphics(void)
{
	if (graphics_depth > 0 && --graphics_depth == 0) {
		atomic_fetch_add(&graphics_ns, (long long)(os_gettime_ns() - graphics_since));
		atomic_fetch_add(&graphics_entries, 1);
	}
	REAL(obs_leave_graphics)();
}

/* -- textures ------------------------------------------------------------------------------------ */

static atomic_llong dmabuf_imports, textures_created, images_set;

gs_texture_t *gs_texture_create_from_dmabuf(unsigned int width, unsigned int height, uint32_t drm_format,
		enum gs_color_format color_format, uint32_t n_planes, const int *fds, const uint32_t *strides,
		const uint32_t *offsets, const uint64_t *modifiers)
{
	atomic_fetch_add(&dmabuf_imports, 1);
	return REAL(gs_texture_create_from_dmabuf)(width, height, drm_format, color_format, n_planes, fds, strides,
			offsets, modifiers);
}

gs_texture_t *gs_texture_create(uint32_t width, uint32_t height, enum gs_color_format color_format,
		uint32_t levels, const uint8_t **data, uint32_t flags)
{
	atomic_fetch_add(&textures_created, 1);
	return REAL(gs_texture_create)(width, height, color_format, levels, data, flags);
}

void gs_texture_set_image(gs_texture_t *tex, const uint8_t *data, uint32_t linesize, bool invert)
{
	atomic_fetch_add(&images_set, 1);
	REAL(gs_texture_set_image)(tex, data, linesize, invert);
}

/* -- one watched output pixel per composed frame --------------------------------------------------- */

#define MARKS 32768
static pthread_mutex_t marks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mark {
	uint64_t frame_ns, output_ns;
	uint32_t bgra;
} marks[MARKS];
static size_t n_marks;
static long watch_x = -1, watch_y = -1;

void probes_watch(long x, long y)
{
	pthread_mutex_lock(&marks_lock);
	watch_x = x;
	watch_y = y;
	n_marks = 0;
	pthread_mutex_unlock(&marks_lock);
}

void probes_frame(const struct video_data *frame, uint32_t width, uint32_t height)
{
	uint64_t now = os_gettime_ns();
	pthread_mutex_lock(&marks_lock);
	if (watch_x >= 0 && watch_x < (long)width && watch_y >= 0 && watch_y < (long)height && n_marks < MARKS) {
		const uint8_t *pixel = frame->data[0] + (size_t)watch_y * frame->linesize[0] + (size_t)watch_x * 4;
		marks[n_marks].frame_ns = frame->timestamp;
		marks[n_marks].output_ns = now;
		memcpy(&marks[n_marks].bgra, pixel, 4);
		n_marks++;
	}
	pthread_mutex_unlock(&marks_lock);
}

bool probes_write_marks(const char *path)
{
	pthread_mutex_lock(&marks_lock);
	FILE *out = fopen(path, "w");
	for (size_t i = 0; out && i < n_marks; i++)
		fprintf(out, "%llu %llu %08x\n", (unsigned long long)marks[i].frame_ns,
				(unsigned long long)marks[i].output_ns, marks[i].bgra);
	n_marks = 0;
	pthread_mutex_unlock(&marks_lock);
	return out && fclose(out) == 0;
}

/* -- the figures as one JSON object ---------------------------------------------------------------- */

size_t probes_json(char *out, size_t size)
{
	size_t o = (size_t)snprintf(out, size,
			"{\"graphics_ns\":%lld,\"graphics_entries\":%lld,\"dmabuf_imports\":%lld,"
			"\"textures_created\":%lld,\"images_set\":%lld,\"render\":{",
			atomic_load(&graphics_ns), atomic_load(&graphics_entries), atomic_load(&dmabuf_imports),
			atomic_load(&textures_created), atomic_load(&images_set));
	for (int i = 0; i < n_timed && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s\"%s\":[%lld,%lld]", i ? "," : "", timed[i].id,
				atomic_load(&timed[i].calls), atomic_load(&timed[i].ns));
	if (o < size)
		o += (size_t)snprintf(out + o, size - o, "}}");
	return o;
}
