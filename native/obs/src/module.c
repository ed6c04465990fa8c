/* The shim is an OBS module as well as a Python extension, so that libobs knows which module
 * registered wlcap_capture.
 *
 * A script registers its source types after OBS has loaded its modules. Since OBS 32, libobs
 * records, for each source type, the module whose obs_module_load registered it, and the frontend
 * paints a source whose type no module claims in red in the Sources list, as if its plugin were
 * missing (obs_source_load_state() == OBS_MODULE_MISSING; obs-studio#12966). So the script does not
 * call obs_register_source itself: it opens this very library through libobs' own module loader
 * (obs_open_module, then obs_init_module), whose obs_module_load below registers the type while
 * libobs records it as this module's. The library is already loaded by Python; dlopen hands libobs
 * the same copy, so the registered callbacks and the controller share one state.
 *
 * The module stays in libobs' list for the life of the process, as every module does; a reloaded
 * script finds the type registered and enables it again (source.c). Being a module also gives wlcap
 * OBS's own translations: the labels come from locale/<language>.ini in the module's data folder. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <string.h>

#include "source_private.h"

OBS_DECLARE_MODULE()
/* The dialog's labels: locale/<language>.ini beside this library (libobs calls obs_module_set_locale
 * when it opens the module). */
OBS_MODULE_USE_DEFAULT_LOCALE("wlcap", "en-US")

MODULE_EXPORT const char *obs_module_name(void)
{
	return "wlcap";
}

MODULE_EXPORT const char *obs_module_description(void)
{
	return "Wayland Capture (wlcap): zero-copy screen and window capture on wlroots compositors";
}

/* Set only while wlcap_module_register runs: libobs calls obs_module_load from obs_init_module
 * there, and this module has nothing to load at any other time. */
static bool registering;

MODULE_EXPORT bool obs_module_load(void)
{
	if (!registering)
		return false;
	wlcap_register_source_type();
	return true;
}

/* Where this library is: libobs opens modules by path. */
static bool own_path(char *path, size_t size)
{
	Dl_info info;
	if (!dladdr((void *)obs_module_load, &info) || !info.dli_fname || strlen(info.dli_fname) >= size)
		return false;
	strcpy(path, info.dli_fname);
	return true;
}

bool wlcap_module_register(void)
{
	char path[4096];
	if (!own_path(path, sizeof(path))) {
		wlcap_logf(LOG_WARNING, "cannot tell where the wlcap library is (dladdr); registering %s "
					"without a module", SOURCE_ID);
		return false;
	}
	/* The module's data folder is the library's own (the wlcap_obs package). */
	char data_path[4096];
	strcpy(data_path, path);
	char *slash = strrchr(data_path, '/');
	if (slash)
		*slash = '\0';

	obs_module_t *module = NULL;
	int error = obs_open_module(&module, path, data_path);
	if (error != MODULE_SUCCESS) {
		wlcap_logf(LOG_WARNING, "libobs did not open %s as a module (error %d); registering %s "
					"without a module", path, error, SOURCE_ID);
		return false;
	}
	registering = true;
	bool loaded = obs_init_module(module);
	registering = false;
	if (!loaded) {
		wlcap_logf(LOG_WARNING, "libobs did not initialise %s as a module; registering %s without a module",
			   path, SOURCE_ID);
		return false;
	}
	wlcap_logf(LOG_INFO, "registered source type %s through OBS's module loader (module %s)", SOURCE_ID,
		   obs_get_module_file_name(module));
	return true;
}
