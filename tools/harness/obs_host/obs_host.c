/* A headless OBS for the tests: libobs and libobs-scripting (the real ones, as the OBS app uses
 * them) without the Qt frontend, on X11 EGL (Xvfb + Mesa llvmpipe). Driven by one command a line
 * on stdin; answers one JSON line each on stdout. The OBS log goes to the file named by argv[1].
 *
 *   script PATH [JSON]     load an OBS Python script (libobs-scripting, as Tools -> Scripts does)
 *                          with the settings JSON (as that dialog saves them); several may be loaded
 *   unload_script [PATH]   destroy them, the last loaded first (script_unload runs); with PATH,
 *                          only the ones loaded from PATH
 *   create NAME ID JSON    create a source, add it to the current scene (at first the one on output
 *                          channel 0: shown)
 *   scene NAME             the scene `create` and `show` add to from now on, created if new (a user
 *                          editing another scene)
 *   program NAME           put that scene on output channel 0: its sources are shown, the last one's hidden
 *   move NAME X Y          position its scene item
 *   update NAME JSON       obs_source_update
 *   hide NAME / show NAME  remove it from / add it back to the scene
 *   scale NAME FACTOR      scale its scene item (from the top left, no scale filter)
 *   release NAME           release the source (destroyed)
 *   size NAME              its width and height
 *   props NAME             its properties: the output and window lists, the status line shown first
 *                          ("headline"), all the status text ("status": that line and the details),
 *                          the names shown
 *   grab PATH FRAMES       wait FRAMES composed frames, write the last one (BGRA) to PATH
 *   stats NAME             the source's "get_stats" proc (render figures) and OBS's frame times
 *   types                  the input source types
 *   load_state ID          what libobs' module registry says of a source type (OBS 32's
 *                          obs_source_load_state: "enabled", "missing", ...; "unknown" before it)
 *   module BINARY DATA     load and initialise an OBS module (a plugin .so and its data folder), as
 *                          the OBS app does at start-up; a module that uses GLib gets a main loop
 *   watch X Y              record the output pixel at (X, Y) of every composed frame (probes.c)
 *   marks PATH             write what was recorded since the last `marks` or `watch` to PATH
 *   probes                 render time per source type, graphics-context time, texture counts
 *   reset_video W H        a canvas of W x H (obs_reset_video, as the OBS app's video settings do;
 *                          the graphics thread restarts)
 *   quit                   shut down; answers the leak count
 */
#include <obs.h>
#include <obs-module.h>
#include <obs-nix-platform.h>
#include <util/base.h>
#include <util/bmem.h>
#include <util/platform.h>
#include <X11/Xlib.h>
#include <dlfcn.h>
#include <wayland-client.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules.h"
#include "probes.h"

typedef struct obs_script obs_script_t;
bool obs_scripting_load(void);
void obs_scripting_unload(void);
obs_script_t *obs_script_create(const char *path, obs_data_t *settings);
void obs_script_destroy(obs_script_t *script);
bool obs_script_loaded(const obs_script_t *script);
const char *obs_script_get_path(const obs_script_t *script);

#define MAX_SOURCES 16

static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_handler(int level, const char *format, va_list args, void *param)
{
	(void)param;
	pthread_mutex_lock(&log_lock);
	fprintf(log_file, "%d: ", level);
	vfprintf(log_file, format, args);
	fputc('\n', log_file);
	fflush(log_file);
	pthread_mutex_unlock(&log_lock);
}

static pthread_mutex_t frame_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t frame_cond = PTHREAD_COND_INITIALIZER;
static uint8_t *frame_pixels;
static uint32_t frame_width, frame_height;
static uint64_t frames_seen;

static void raw_video(void *param, struct video_data *frame)
{
	(void)param;
	pthread_mutex_lock(&frame_lock);
	for (uint32_t y = 0; y < frame_height; y++)
		memcpy(frame_pixels + (size_t)y * frame_width * 4, frame->data[0] + (size_t)y * frame->linesize[0],
				(size_t)frame_width * 4);
	frames_seen++;
	probes_frame(frame, frame_width, frame_height);
	pthread_cond_broadcast(&frame_cond);
	pthread_mutex_unlock(&frame_lock);
}

static struct {
	char name[64];
	obs_source_t *source;
	obs_sceneitem_t *item;
} sources[MAX_SOURCES];

#define MAX_SCENES 4
static struct {
	char name[64];
	obs_scene_t *scene;
} scenes[MAX_SCENES];
static obs_scene_t *scene; /* the current one: where `create` and `show` add */
#define MAX_SCRIPTS 4
static obs_script_t *scripts[MAX_SCRIPTS];
static int n_scripts;

/* The scene called `name`, created if new (NULL when there is no room). */
static obs_scene_t *scene_named(const char *name)
{
	for (int i = 0; i < MAX_SCENES; i++)
		if (scenes[i].scene && !strcmp(scenes[i].name, name))
			return scenes[i].scene;
	for (int i = 0; i < MAX_SCENES; i++) {
		if (!scenes[i].scene) {
			snprintf(scenes[i].name, sizeof(scenes[i].name), "%s", name);
			return scenes[i].scene = obs_scene_create(name);
		}
	}
	return NULL;
}

/* The scripts loaded from path (every one when NULL), the last loaded first. */
static void unload_scripts(const char *path)
{
	for (int i = n_scripts - 1; i >= 0; i--) {
		if (path && strcmp(obs_script_get_path(scripts[i]), path) != 0)
			continue;
		obs_script_destroy(scripts[i]);
		memmove(&scripts[i], &scripts[i + 1], sizeof(scripts[0]) * (size_t)(n_scripts - i - 1));
		n_scripts--;
	}
}

static int find(const char *name)
{
	for (int i = 0; i < MAX_SOURCES; i++)
		if (sources[i].source && strcmp(sources[i].name, name) == 0)
			return i;
	return -1;
}

static void reply(const char *format, ...)
{
	va_list args;
	va_start(args, format);
	vprintf(format, args);
	va_end(args);
	putchar('\n');
	fflush(stdout);
}

static void json_string(char *out, size_t size, const char *text)
{
	size_t o = 0;
	for (; *text && o + 7 < size; text++) {
		if (*text == '"' || *text == '\\') {
			out[o++] = '\\';
			out[o++] = *text;
		} else if ((unsigned char)*text < 0x20) {
			o += snprintf(out + o, size - o, "\\u%04x", *text);
		} else {
			out[o++] = *text;
		}
	}
	out[o] = '\0';
}

/* A list property's values as JSON strings, comma-separated. */
static void list_values(obs_properties_t *props, const char *name, char *items, size_t size)
{
	char escaped[1024];
	obs_property_t *list = obs_properties_get(props, name);
	size_t count = list ? obs_property_list_item_count(list) : 0;
	size_t o = 0;
	items[0] = '\0';
	for (size_t k = 0; k < count && o < size; k++) {
		json_string(escaped, sizeof(escaped), obs_property_list_item_string(list, k));
		o += snprintf(items + o, size - o, "%s\"%s\"", k ? "," : "", escaped);
	}
}

/* The names of the properties the dialog shows, in its order, as JSON strings; a group's own as
 * "GROUP/NAME". What is hidden (obs_property_set_visible, after the modified callbacks ran) is left out. */
static size_t shown_names(obs_properties_t *props, const char *group, char *out, size_t size, size_t o)
{
	for (obs_property_t *p = obs_properties_first(props); p && o < size; obs_property_next(&p)) {
		if (!obs_property_visible(p))
			continue;
		o += snprintf(out + o, size - o, "%s\"%s%s%s\"", o ? "," : "", group, *group ? "/" : "",
				obs_property_name(p));
		if (obs_property_get_type(p) == OBS_PROPERTY_GROUP && o < size)
			o = shown_names(obs_property_group_content(p), obs_property_name(p), out, size, o);
	}
	return o;
}

static void do_props(int i)
{
	obs_properties_t *props = obs_source_properties(sources[i].source);
	char items[4096], windows[4096], headline[512] = "", status[2048] = "", shown[1024] = "";
	list_values(props, "output", items, sizeof(items));
	list_values(props, "window", windows, sizeof(windows));
	shown_names(props, "", shown, sizeof(shown), 0);
	/* The line shown first, and all the status text the dialog shows: that line, then the details
	 * in the Advanced group. */
	obs_property_t *status_prop = obs_properties_get(props, "status");
	obs_property_t *advanced = obs_properties_get(props, "advanced");
	obs_property_t *details_prop =
		advanced ? obs_properties_get(obs_property_group_content(advanced), "details") : NULL;
	char text[2048];
	snprintf(text, sizeof(text), "%s%s%s", status_prop ? obs_property_description(status_prop) : "",
			details_prop ? "\n" : "", details_prop ? obs_property_description(details_prop) : "");
	json_string(headline, sizeof(headline), status_prop ? obs_property_description(status_prop) : "");
	json_string(status, sizeof(status), text);
	reply("{\"ok\":true,\"outputs\":[%s],\"windows\":[%s],\"headline\":\"%s\",\"status\":\"%s\","
			"\"shown\":[%s]}", items, windows, headline, status, shown);
	obs_properties_destroy(props);
}

/* OBS 32's answer to "which module registered this type, and is it enabled": the frontend paints
 * a source in red unless it is "enabled". Looked up at run time: OBS 29 has no such call. */
static void reply_load_state(const char *id)
{
	static const char *const names[] = {"invalid", "enabled", "missing", "disabled", "disabled_safe",
					    "failed_to_open", "failed_to_initialize"};
	int (*load_state)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "obs_source_load_state");
	if (!load_state) {
		reply("{\"ok\":true,\"state\":\"unknown\"}");
		return;
	}
	int state = load_state(id);
	if (state >= 0 && state < (int)(sizeof(names) / sizeof(names[0])))
		reply("{\"ok\":true,\"state\":\"%s\"}", names[state]);
	else
		reply("{\"ok\":true,\"state\":\"%d\"}", state);
}

static int reset_video(uint32_t width, uint32_t height)
{
	const char *fps = getenv("OBS_HOST_FPS"); /* OBS's frame rate; 30 unless a test needs another */
	struct obs_video_info ovi = {
		.graphics_module = "libobs-opengl",
		.fps_num = fps ? (uint32_t)atoi(fps) : 30,
		.fps_den = 1,
		.base_width = width,
		.base_height = height,
		.output_width = width,
		.output_height = height,
		.output_format = VIDEO_FORMAT_BGRA, /* RGBA output comes out all zero in OBS 29 */
		.gpu_conversion = true,
		.colorspace = VIDEO_CS_SRGB,
		.range = VIDEO_RANGE_FULL,
		.scale_type = OBS_SCALE_DISABLE,
	};
	return obs_reset_video(&ovi);
}

/* A new canvas size while sources run. libobs refuses while video is in use, as the OBS app's
 * settings do while an output runs: the raw-video tap comes off around the reset. */
static void resize_canvas(uint32_t width, uint32_t height)
{
	obs_remove_raw_video_callback(raw_video, NULL); /* no frame is being copied after this */
	int result = width && height ? reset_video(width, height) : OBS_VIDEO_INVALID_PARAM;
	if (result == OBS_VIDEO_SUCCESS) {
		pthread_mutex_lock(&frame_lock);
		free(frame_pixels);
		frame_pixels = calloc((size_t)width * height, 4);
		frame_width = width;
		frame_height = height;
		pthread_mutex_unlock(&frame_lock);
	}
	obs_add_raw_video_callback(NULL, raw_video, NULL);
	reply("{\"ok\":%s,\"result\":%d,\"width\":%u,\"height\":%u}", result == OBS_VIDEO_SUCCESS ? "true" : "false",
			result, frame_width, frame_height);
}

static void handle(char *line)
{
	char *command = strtok(line, " \n");
	char *arg1 = strtok(NULL, " \n");
	char *rest = strtok(NULL, "\n");
	if (!command) {
		reply("{\"ok\":false,\"error\":\"empty\"}");
	} else if (!strcmp(command, "script")) {
		static bool scripting_loaded; /* once per process, as the OBS app does */
		if (!scripting_loaded && !(scripting_loaded = obs_scripting_load())) {
			reply("{\"ok\":false,\"error\":\"obs_scripting_load failed\"}");
			return;
		}
		obs_data_t *settings = rest ? obs_data_create_from_json(rest) : NULL;
		obs_script_t *script = n_scripts < MAX_SCRIPTS ? obs_script_create(arg1, settings) : NULL;
		obs_data_release(settings);
		if (script)
			scripts[n_scripts++] = script;
		reply("{\"ok\":%s}", script && obs_script_loaded(script) ? "true" : "false");
	} else if (!strcmp(command, "unload_script")) {
		unload_scripts(arg1);
		reply("{\"ok\":true}");
	} else if (!strcmp(command, "create")) {
		char *id = strtok(rest, " \n");
		char *json = strtok(NULL, "\n");
		int slot = -1;
		for (int i = 0; i < MAX_SOURCES && slot < 0; i++)
			if (!sources[i].source)
				slot = i;
		obs_data_t *settings = obs_data_create_from_json(json ? json : "{}");
		obs_source_t *source = obs_source_create(id, arg1, settings, NULL);
		obs_data_release(settings);
		if (!source || slot < 0) {
			obs_source_release(source);
			reply("{\"ok\":false,\"error\":\"cannot create %s\"}", id);
			return;
		}
		snprintf(sources[slot].name, sizeof(sources[slot].name), "%s", arg1);
		sources[slot].source = source;
		sources[slot].item = obs_scene_add(scene, source);
		reply("{\"ok\":true}");
	} else if ((!strcmp(command, "update") || !strcmp(command, "hide") || !strcmp(command, "show") ||
			   !strcmp(command, "release") || !strcmp(command, "size") || !strcmp(command, "props") ||
			   !strcmp(command, "stats") || !strcmp(command, "scale") || !strcmp(command, "move")) &&
			find(arg1) < 0) {
		reply("{\"ok\":false,\"error\":\"no source %s\"}", arg1 ? arg1 : "");
	} else if (!strcmp(command, "update")) {
		obs_data_t *settings = obs_data_create_from_json(rest ? rest : "{}");
		obs_source_update(sources[find(arg1)].source, settings);
		obs_data_release(settings);
		reply("{\"ok\":true}");
	} else if (!strcmp(command, "hide")) {
		int i = find(arg1);
		if (sources[i].item) {
			obs_sceneitem_remove(sources[i].item);
			sources[i].item = NULL;
		}
		reply("{\"ok\":true}");
	} else if (!strcmp(command, "show")) {
		int i = find(arg1);
		if (!sources[i].item)
			sources[i].item = obs_scene_add(scene, sources[i].source);
		reply("{\"ok\":true}");
	} else if (!strcmp(command, "scale")) {
		/* The scene item's scale, as a user's drag of its corner sets it (no scale filter). */
		int i = find(arg1);
		float factor = rest ? strtof(rest, NULL) : 1.0f;
		if (sources[i].item)
			obs_sceneitem_set_scale(sources[i].item, &(struct vec2){.x = factor, .y = factor});
		reply("{\"ok\":%s}", sources[i].item ? "true" : "false");
	} else if (!strcmp(command, "move")) {
		int i = find(arg1);
		float x = 0, y = 0;
		if (rest)
			sscanf(rest, "%f %f", &x, &y);
		if (sources[i].item)
			obs_sceneitem_set_pos(sources[i].item, &(struct vec2){.x = x, .y = y});
		reply("{\"ok\":%s}", sources[i].item ? "true" : "false");
	} else if (!strcmp(command, "scene") || !strcmp(command, "program")) {
		obs_scene_t *named = arg1 ? scene_named(arg1) : NULL;
		if (named && !strcmp(command, "scene"))
			scene = named;
		else if (named)
			obs_set_output_source(0, obs_scene_get_source(named));
		reply("{\"ok\":%s}", named ? "true" : "false");
	} else if (!strcmp(command, "release")) {
		int i = find(arg1);
		if (sources[i].item)
			obs_sceneitem_remove(sources[i].item);
		obs_source_release(sources[i].source);
		memset(&sources[i], 0, sizeof(sources[i]));
		obs_wait_for_destroy_queue(); /* answer once it is really gone */
		reply("{\"ok\":true}");
	} else if (!strcmp(command, "size")) {
		obs_source_t *source = sources[find(arg1)].source;
		reply("{\"ok\":true,\"width\":%u,\"height\":%u}", obs_source_get_width(source),
				obs_source_get_height(source));
	} else if (!strcmp(command, "props")) {
		do_props(find(arg1));
	} else if (!strcmp(command, "grab")) {
		long frames = rest ? atol(rest) : 3;
		pthread_mutex_lock(&frame_lock);
		uint64_t target = frames_seen + (uint64_t)frames;
		while (frames_seen < target)
			pthread_cond_wait(&frame_cond, &frame_lock);
		FILE *out = fopen(arg1, "wb");
		if (out) {
			fwrite(frame_pixels, 4, (size_t)frame_width * frame_height, out);
			fclose(out);
		}
		pthread_mutex_unlock(&frame_lock);
		reply("{\"ok\":%s,\"width\":%u,\"height\":%u}", out ? "true" : "false", frame_width, frame_height);
	} else if (!strcmp(command, "peek")) {
		/* The newest output frame now, without waiting for another: OBS's render thread may be
		 * held up (a GPU wait on a fence, on a software GPU). */
		pthread_mutex_lock(&frame_lock);
		FILE *out = fopen(arg1, "wb");
		if (out) {
			fwrite(frame_pixels, 4, (size_t)frame_width * frame_height, out);
			fclose(out);
		}
		uint64_t seen = frames_seen;
		pthread_mutex_unlock(&frame_lock);
		reply("{\"ok\":%s,\"frames_seen\":%llu}", out ? "true" : "false", (unsigned long long)seen);
	} else if (!strcmp(command, "stats")) {
		/* The source's "get_stats" proc, and OBS's own frame figures for comparison. */
		calldata_t cd = {0};
		proc_handler_t *ph = obs_source_get_proc_handler(sources[find(arg1)].source);
		bool ok = proc_handler_call(ph, "get_stats", &cd);
		static const char *names[] = {"frames_published", "frames_dropped", "frames_shown", "renders",
				"render_ns", "ticks", "tick_ns", "uploads", "textures_created", "dmabuf_imports",
				"dmabuf_import_failures", "python_frames", "python_ns", "acquire_waits", "acquire_signalled",
				"releases_unsampled", "releases_copied", "release_fences", "releases_implicit",
				"releases_at_stop", "frames_returned", "cursor_uploads", "cursor_draws", "frames_rejected",
				"upload_pixels"};
		char out[2048];
		size_t o = 0;
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			o += snprintf(out + o, sizeof(out) - o, ",\"%s\":%lld", names[k], calldata_int(&cd, names[k]));
		calldata_free(&cd);
		reply("{\"ok\":%s%s,\"obs_average_frame_time_ns\":%llu,\"obs_total_frames\":%u,"
				"\"obs_lagged_frames\":%u}", ok ? "true" : "false", out,
				(unsigned long long)obs_get_average_frame_time_ns(), obs_get_total_frames(),
				obs_get_lagged_frames());
	} else if (!strcmp(command, "module")) {
		int code = 0;
		if (load_module(arg1 ? arg1 : "", rest ? rest : "", &code))
			reply("{\"ok\":true}");
		else
			reply("{\"ok\":false,\"error\":\"cannot load %s (%d)\"}", arg1 ? arg1 : "", code);
	} else if (!strcmp(command, "watch")) {
		probes_watch(arg1 ? atol(arg1) : -1, rest ? atol(rest) : -1);
		reply("{\"ok\":true}");
	} else if (!strcmp(command, "marks")) {
		reply("{\"ok\":%s}", arg1 && probes_write_marks(arg1) ? "true" : "false");
	} else if (!strcmp(command, "probes")) {
		char out[2048];
		probes_json(out, sizeof(out));
		reply("{\"ok\":true,\"probes\":%s}", out);
	} else if (!strcmp(command, "types")) {
		char list[4096] = "";
		size_t o = 0;
		const char *id;
		for (size_t k = 0; obs_enum_input_types(k, &id); k++)
			o += snprintf(list + o, sizeof(list) - o, "%s\"%s\"", k ? "," : "", id);
		reply("{\"ok\":true,\"types\":[%s]}", list);
	} else if (!strcmp(command, "load_state")) {
		reply_load_state(arg1 ? arg1 : "");
	} else if (!strcmp(command, "reset_video")) {
		resize_canvas(arg1 ? (uint32_t)atoi(arg1) : 0, rest ? (uint32_t)atoi(rest) : 0);
	} else {
		reply("{\"ok\":false,\"error\":\"unknown command %s\"}", command);
	}
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: obs_host LOGFILE WIDTH HEIGHT\n");
		return 2;
	}
	log_file = fopen(argv[1], "w");
	if (!log_file)
		return 1;
	base_set_log_handler(log_handler, NULL);
	frame_width = (uint32_t)atoi(argv[2]);
	frame_height = (uint32_t)atoi(argv[3]);
	frame_pixels = calloc((size_t)frame_width * frame_height, 4);

	/* X11 EGL on Xvfb by default; OBS_HOST_PLATFORM=wayland renders with Wayland EGL on the
	 * compositor itself (the DMA-BUF guest tier, which has no X server). */
	Display *display = NULL;
	struct wl_display *wayland = NULL;
	const char *platform = getenv("OBS_HOST_PLATFORM");
	if (platform && !strcmp(platform, "wayland")) {
		/* OBS_HOST_WAYLAND_DISPLAY: the compositor OBS itself draws on, when it is not the one
		 * WAYLAND_DISPLAY names for wlcap to capture (one that a test kills and restarts). */
		wayland = wl_display_connect(getenv("OBS_HOST_WAYLAND_DISPLAY"));
		if (!wayland) {
			fprintf(stderr, "obs_host: no Wayland display\n");
			return 1;
		}
		obs_set_nix_platform(OBS_NIX_PLATFORM_WAYLAND);
		obs_set_nix_platform_display(wayland);
	} else {
		display = XOpenDisplay(NULL);
		if (!display) {
			fprintf(stderr, "obs_host: no X display\n");
			return 1;
		}
		obs_set_nix_platform(OBS_NIX_PLATFORM_X11_EGL);
		obs_set_nix_platform_display(display);
	}
	char config[256];
	snprintf(config, sizeof(config), "%s.config", argv[1]);
	if (!obs_startup("en-US", config, NULL))
		return 1;
	if (reset_video(frame_width, frame_height) != OBS_VIDEO_SUCCESS)
		return 1;
	struct obs_audio_info oai = {48000, SPEAKERS_STEREO};
	obs_reset_audio(&oai);
	obs_post_load_modules();
	scene = scene_named("wlcap-test");
	obs_set_output_source(0, obs_scene_get_source(scene));
	obs_add_raw_video_callback(NULL, raw_video, NULL);
	reply("{\"ok\":true,\"ready\":true}");

	char line[8192];
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "quit", 4))
			break;
		handle(line);
	}

	obs_remove_raw_video_callback(raw_video, NULL);
	obs_set_output_source(0, NULL);
	for (int i = 0; i < MAX_SOURCES; i++) {
		if (sources[i].item)
			obs_sceneitem_remove(sources[i].item);
		obs_source_release(sources[i].source);
	}
	for (int i = 0; i < MAX_SCENES; i++)
		obs_scene_release(scenes[i].scene);
	/* As the OBS app does (ClearSceneData): the sources are destroyed, on libobs' destruction
	 * thread, before the scripts and the Python interpreter go away. */
	obs_wait_for_destroy_queue();
	unload_scripts(NULL);
	obs_scripting_unload();
	obs_shutdown();
	long leaks = bnum_allocs();
	reply("{\"ok\":true,\"leaks\":%ld}", leaks);
	if (display)
		XCloseDisplay(display);
	if (wayland)
		wl_display_disconnect(wayland);
	free(frame_pixels);
	fclose(log_file);
	return 0;
}
