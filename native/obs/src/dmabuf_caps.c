/* What OBS's renderer can do with DMA-BUFs, for the Python side's negotiation: the formats and
 * modifiers it imports (asked inside the graphics context), and whether explicit sync is in use on
 * the render thread (render_sync.c). */
#include <string.h>

#include "render_sync.h"
#include "source_private.h"

/* Copy at most max entries of a list OBS allocated into out and free it; -1 if the query failed. */
static int take_list(void *out, void *list, size_t n, size_t max, size_t entry_size, bool ok)
{
	size_t count = n < max ? n : max;
	if (ok)
		memcpy(out, list, count * entry_size);
	bfree(list);
	return ok ? (int)count : -1;
}

int wlcap_query_dmabuf_formats(uint32_t *formats, size_t max, bool *implicit)
{
	enum gs_dmabuf_flags flags = GS_DMABUF_FLAG_NONE;
	uint32_t *list = NULL;
	size_t n = 0;
	obs_enter_graphics();
	bool ok = gs_query_dmabuf_capabilities(&flags, &list, &n);
	obs_leave_graphics();
	*implicit = flags & GS_DMABUF_FLAG_IMPLICIT_MODIFIERS_SUPPORTED;
	return take_list(formats, list, n, max, sizeof(*formats), ok);
}

int wlcap_query_dmabuf_modifiers(uint32_t format, uint64_t *modifiers, size_t max)
{
	uint64_t *list = NULL;
	size_t n = 0;
	obs_enter_graphics();
	bool ok = gs_query_dmabuf_modifiers_for_format(format, &list, &n);
	obs_leave_graphics();
	return take_list(modifiers, list, n, max, sizeof(*modifiers), ok);
}

int wlcap_sync_status(char *why, size_t size)
{
	return render_sync_status(why, size);
}

int wlcap_attach_read_fence(const int *fds, uint32_t n_planes, int fence_fd)
{
	return render_sync_attach_read_fence(fds, n_planes, fence_fd);
}
