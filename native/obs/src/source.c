/* The "wlcap_capture" OBS source: its obs_source_info and callbacks, registration, and the list of
 * live sources a reloaded script adopts. The other jobs are in the files source_private.h lists. */
#include <string.h>
#include <unistd.h>

#include "source_private.h"

/* libobs 29 exports this without declaring it in an installed header. */
EXPORT void obs_enable_source_type(const char *name, bool enable);

/* Every source of this type that exists, so that a reloaded script can adopt them. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wlcap_source *live_sources;

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
	return atomic_load(&src->show_count);
}

double wlcap_video_fps(void)
{
	struct obs_video_info ovi;
	if (!obs_get_video_info(&ovi) || !ovi.fps_den)
		return 0.0;
	return (double)ovi.fps_num / ovi.fps_den;
}

void wlcap_log(int level, const char *message)
{
	wlcap_logf(level, "%s", message);
}

static const char *wlcap_get_name(void *type_data)
{
	UNUSED_PARAMETER(type_data);
	return T("WlcapCapture");
}

static void *wlcap_create(obs_data_t *settings, obs_source_t *source)
{
	struct wlcap_source *src = bzalloc(sizeof(*src));
	src->source = source;
	src->wake_fd = -1;
	atomic_init(&src->show_count, 0);
	pthread_mutex_init(&src->lock, NULL);
	pthread_cond_init(&src->render_done, NULL);
	snprintf(src->status, sizeof(src->status), "starting");
	pthread_mutex_lock(&live_lock);
	src->next_live = live_sources;
	live_sources = src;
	pthread_mutex_unlock(&live_lock);
	stats_add_proc(src);
	events_post(src, WLCAP_EVENT_CREATE, settings, false);
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
	bool stopped = events_post(src, WLCAP_EVENT_DESTROY, NULL, true);
	pthread_mutex_lock(&src->lock);
	src->destroying = true;
	pthread_mutex_unlock(&src->lock);
	if (!stopped) {
		/* Python is stuck: freeing the source under a live capture thread would crash OBS. */
		wlcap_logf(LOG_ERROR, "capture did not stop in time; leaking the source's state");
		return;
	}
	obs_enter_graphics();
	textures_free(src);
	gs_effect_destroy(src->effect);
	cursor_overlay_free(&src->cursor_overlay);
	obs_leave_graphics();
	cursor_state_finish(&src->cursor);
	if (src->wake_fd >= 0)
		close(src->wake_fd);
	pthread_cond_destroy(&src->render_done);
	pthread_mutex_destroy(&src->lock);
	bfree(src);
}

static void wlcap_update(void *data, obs_data_t *settings)
{
	events_post(data, WLCAP_EVENT_UPDATE, settings, false);
}

static void wlcap_show(void *data)
{
	struct wlcap_source *src = data;
	atomic_fetch_add(&src->show_count, 1);
	events_post(src, WLCAP_EVENT_SHOW, NULL, false);
}

static void wlcap_hide(void *data)
{
	struct wlcap_source *src = data;
	int count = atomic_load(&src->show_count);
	while (count > 0 && !atomic_compare_exchange_weak(&src->show_count, &count, count - 1))
		;
	events_post(src, WLCAP_EVENT_HIDE, NULL, false);
}

static uint32_t wlcap_get_width(void *data)
{
	struct wlcap_source *src = data;
	return atomic_load_explicit(&src->stats.width, memory_order_relaxed);
}

static uint32_t wlcap_get_height(void *data)
{
	struct wlcap_source *src = data;
	return atomic_load_explicit(&src->stats.height, memory_order_relaxed);
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
	events_attach();
	if (registered) {
		obs_enable_source_type(SOURCE_ID, true);
		wlcap_logf(LOG_INFO, "source type %s enabled again", SOURCE_ID);
		return true;
	}
	if (!wlcap_module_register()) {
		wlcap_register_source_type();
		wlcap_logf(LOG_INFO, "registered source type %s", SOURCE_ID);
	}
	registered = true;
	return true;
}

void wlcap_register_source_type(void)
{
	obs_register_source(&wlcap_source_info);
}

void wlcap_obs_unregister(void)
{
	events_detach();
	if (registered) {
		obs_enable_source_type(SOURCE_ID, false);
		wlcap_logf(LOG_INFO, "source type %s disabled (script unloaded)", SOURCE_ID);
	}
}
