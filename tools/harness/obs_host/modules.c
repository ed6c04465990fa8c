/* Loading an OBS module into the OBS host, as the OBS app does at start-up. */
#include <obs-module.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>

#include "modules.h"

/* OBS's PipeWire capture talks to the portal through GDBus, whose replies and signals arrive on
 * GLib's default main context: the OBS app iterates it in Qt's event loop; here a thread does. */
static void *glib_loop(void *param)
{
	int (*iterate)(void *context, int may_block) = param; /* gboolean is an int */
	for (;;)
		iterate(NULL, true);
	return NULL;
}

static void start_glib_loop(void)
{
	static bool started;
	void *glib = dlopen("libglib-2.0.so.0", RTLD_NOW | RTLD_NOLOAD);
	void *iterate = glib ? dlsym(glib, "g_main_context_iteration") : NULL;
	pthread_t thread;
	if (!started && iterate && pthread_create(&thread, NULL, glib_loop, iterate) == 0) {
		pthread_detach(thread);
		started = true;
	}
}

bool load_module(const char *binary, const char *data, int *code)
{
	obs_module_t *module = NULL;
	*code = obs_open_module(&module, binary, data);
	if (*code != MODULE_SUCCESS || !obs_init_module(module))
		return false;
	start_glib_loop();
	return true;
}

