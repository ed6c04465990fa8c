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

void wlcap_source_set_status(struct wlcap_source *src, const char *status, const char *details)
{
	pthread_mutex_lock(&src->lock);
	snprintf(src->status, sizeof(src->status), "%s", status);
	snprintf(src->details, sizeof(src->details), "%s", details);
	pthread_mutex_unlock(&src->lock);
}

void wlcap_get_defaults(obs_data_t *settings)
{
	obs_data_set_default_string(settings, "output", "");
	obs_data_set_default_bool(settings, "cursor", true); /* as OBS's own screen captures */
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

/* Show what applies to the settings as they are (OBS runs this when the dialog opens and when one
 * of the properties it is set on changes): the output list for an output, the window list for a
 * window; who draws the cursor only for a shown cursor on an output (compositors offer cursor
 * sessions for outputs, not windows). */
static bool show_what_applies(obs_properties_t *props, obs_property_t *changed, obs_data_t *settings)
{
	UNUSED_PARAMETER(changed);
	const bool window = strcmp(obs_data_get_string(settings, "target"), "window") == 0;
	obs_property_set_visible(obs_properties_get(props, "output"), !window);
	obs_property_set_visible(obs_properties_get(props, "window"), window);
	obs_property_set_visible(obs_properties_get(props, "cursor_drawing"),
			!window && obs_data_get_bool(settings, "cursor"));
	return true;
}

/* Choices most people never need, in a group of their own below the everyday ones, after how the
 * source captures (`details`: buffers and why, format, sync, cursor, protocol and why). */
static obs_properties_t *advanced_properties(const char *details)
{
	obs_properties_t *advanced = obs_properties_create();
	if (*details)
		obs_properties_add_text(advanced, "details", details, OBS_TEXT_INFO);
	obs_property_t *protocol = obs_properties_add_list(advanced, "protocol", T("Protocol"), OBS_COMBO_TYPE_LIST,
			OBS_COMBO_FORMAT_STRING);
	obs_property_list_add_string(protocol, T("Protocol.Auto"), "auto");
	obs_property_list_add_string(protocol, T("Protocol.Ext"), "ext");
	obs_property_list_add_string(protocol, T("Protocol.Wlr"), "wlr");
	obs_property_t *drawing = obs_properties_add_list(advanced, "cursor_drawing", T("CursorDrawing"),
			OBS_COMBO_TYPE_LIST, OBS_COMBO_FORMAT_STRING);
	obs_property_list_add_string(drawing, T("CursorDrawing.Obs"), "obs");
	obs_property_list_add_string(drawing, T("CursorDrawing.Compositor"), "compositor");
	obs_property_t *backend = obs_properties_add_list(advanced, "backend", T("Backend"), OBS_COMBO_TYPE_LIST,
			OBS_COMBO_FORMAT_STRING);
	obs_property_list_add_string(backend, T("Backend.Auto"), "auto");
	obs_property_list_add_string(backend, T("Backend.Dmabuf"), "dmabuf");
	obs_property_list_add_string(backend, T("Backend.Shm"), "shm");
	return advanced;
}

obs_properties_t *wlcap_get_properties(void *data)
{
	struct wlcap_source *src = data;
	obs_properties_t *props = obs_properties_create();

	/* First, where it is seen without scrolling: what the source is doing, or what went wrong, in a
	 * line; how it does it is in the Advanced group (and in the log). */
	char status[600];
	snprintf(status, sizeof(status), "%s: -", T("Status"));
	char details[512] = "";
	if (src) {
		pthread_mutex_lock(&src->lock);
		snprintf(status, sizeof(status), "%s: %s", T("Status"), src->status);
		snprintf(details, sizeof(details), "%s", src->details);
		pthread_mutex_unlock(&src->lock);
	}
	obs_properties_add_text(props, "status", status, OBS_TEXT_INFO);

	obs_property_t *target = obs_properties_add_list(props, "target", T("Target"), OBS_COMBO_TYPE_LIST,
			OBS_COMBO_FORMAT_STRING);
	obs_property_list_add_string(target, T("Target.Output"), "output");
	obs_property_list_add_string(target, T("Target.Window"), "window");
	obs_property_set_modified_callback(target, show_what_applies);
	obs_property_t *output = obs_properties_add_list(props, "output", T("Output"), OBS_COMBO_TYPE_LIST,
			OBS_COMBO_FORMAT_STRING);
	obs_property_list_add_string(output, T("Output.First"), "");
	add_listed(output, output_list, src, "output", true, T("Output.Absent")); /* remembered while unplugged */
	/* Windows are remembered by app id, so that capture resumes when the application opens one again. */
	obs_property_t *window = obs_properties_add_list(props, "window", T("Window"), OBS_COMBO_TYPE_LIST,
			OBS_COMBO_FORMAT_STRING);
	add_listed(window, window_list, src, "window", false, T("Window.Absent"));
	obs_property_t *cursor = obs_properties_add_bool(props, "cursor", T("Cursor"));
	obs_property_set_modified_callback(cursor, show_what_applies);
	obs_properties_add_text(props, "region", T("Region"), OBS_TEXT_DEFAULT);
	obs_properties_add_group(props, "advanced", T("Advanced"), OBS_GROUP_NORMAL, advanced_properties(details));
	return props;
}
