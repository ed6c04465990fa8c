/* Calls from C into the Python controller, for cffi's cdef only (`extern "Python+C"` is cffi syntax).
 * None of them runs on the render thread. */

/* A source event; settings_json is the source's settings for CREATE and UPDATE, else NULL. */
extern "Python+C" void wlcap_py_event(struct wlcap_source *src, int event, const char *settings_json);
/* Fill buf with "name\tdescription\n" lines of the outputs now connected; returns the length. */
extern "Python+C" size_t wlcap_py_list_outputs(char *buf, size_t size);
