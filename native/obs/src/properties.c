/* The properties dialog: the defaults, the lists of outputs and windows (which Python keeps fresh),
 * and the status line Python writes. */
#include <stdio.h>
#include <string.h>

#include "source_private.h"

#define LISTING_SIZE 8192

static pthread_mutex_t listing_lock = PTHREAD_MUTEX_INITIALIZER;
static char output_list[LISTING_SIZE]; /* "name\tdescription\n" lines */
static char window_list[LISTING_SIZE]; /* "app_id\tlabel\n" lines (ext-foreign-toplevel-list) */

void wlcap_set_output_list(const char *list)
{
	pthread_mutex_lock(&listing_lock);
	snprintf(output_list, sizeof(output_list), "%s", list);
	pthread_mutex_unlock(&listing_lock);
}

void wlcap_set_window_list(const char *list)
{
	pthread_mutex_lock(&listing_lock);
	snprintf(window_list, sizeof(window_list), "%s", list);
	pthread_mutex_unlock(&listing_lock);
}

void wlcap_source_set_status(struct wlcap_source *src, const char *status)
{
	pthread_mutex_lock(&src->lock);
	snprintf(src->status, sizeof(src->status), "%s", status);
	pthread_mutex_unlock(&src->lock);
}

void wlcap_get_defaults(obs_data_t *settings)
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

/* Fill a list property from one of the "value\tlabel\n" listings. The value the source has set for
 * `key` stays selectable while it is not listed, labelled "VALUE (`absent`)", so that capture resumes
 * when it comes back. `with_value`: label entries "VALUE: LABEL". */
static void add_listed(obs_property_t *list, const char *shared_listing, struct wlcap_source *src,
		const char *key, bool with_value, const char *absent)
{
	char listing[LISTING_SIZE];
	pthread_mutex_lock(&listing_lock);
	memcpy(listing, shared_listing, sizeof(listing));
	pthread_mutex_unlock(&listing_lock);
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

obs_properties_t *wlcap_get_properties(void *data)
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
