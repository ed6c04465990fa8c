/* What the source reports back: the render figures (wlcap_source_get_stats, and get_stats on the
 * source's proc handler for tools that have no wlcap headers), the last refused frame and the last
 * failed DMA-BUF import. The figures are atomics: each is written by one thread, or under the lock,
 * and read here without tearing. */
#include <stdio.h>

#include "source_private.h"

void wlcap_source_get_stats(struct wlcap_source *src, struct wlcap_render_stats *out)
{
	struct source_stats *stats = &src->stats;
	/* Under the lock, the counters the slot moves together (published, dropped, shown, returned and
	 * how) are read as of one moment; the render thread's own may run a frame ahead. */
	pthread_mutex_lock(&src->lock);
#define WLCAP_STATS_READ(name) out->name = atomic_load_explicit(&stats->name, memory_order_relaxed);
	WLCAP_STATS_COUNTERS(WLCAP_STATS_READ)
#undef WLCAP_STATS_READ
	pthread_mutex_unlock(&src->lock);
	out->width = atomic_load_explicit(&stats->width, memory_order_relaxed);
	out->height = atomic_load_explicit(&stats->height, memory_order_relaxed);
}

/* Once per frame from the capture thread: no lock. */
void wlcap_source_add_python_time(struct wlcap_source *src, uint64_t frames, uint64_t ns)
{
	stat_add(&src->stats.python_frames, frames);
	stat_add(&src->stats.python_ns, ns);
}

static void get_stats_proc(void *data, calldata_t *cd)
{
	struct wlcap_render_stats stats;
	wlcap_source_get_stats(data, &stats);
#define WLCAP_STATS_SET(name) calldata_set_int(cd, #name, (long long)stats.name);
	WLCAP_STATS_COUNTERS(WLCAP_STATS_SET)
#undef WLCAP_STATS_SET
}

void stats_add_proc(struct wlcap_source *src)
{
	proc_handler_add(obs_source_get_proc_handler(src->source),
			"void get_stats(out int frames_published, out int frames_dropped, out int frames_shown, "
			"out int renders, out int render_ns, out int ticks, out int tick_ns, out int uploads, "
			"out int textures_created, out int dmabuf_imports, out int dmabuf_import_failures, "
			"out int python_frames, out int python_ns, out int acquire_waits, out int acquire_signalled, "
			"out int releases_unsampled, out int releases_copied, out int release_fences, "
			"out int releases_implicit, out int releases_at_stop, "
			"out int frames_returned, out int cursor_uploads, out int cursor_draws, out int frames_rejected, "
			"out int upload_pixels)",
			get_stats_proc, src);
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
