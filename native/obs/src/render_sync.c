/* Explicit sync between the compositor's copy, OBS's reads and the compositor's next copy, on OBS's
 * render thread, with no CPU wait anywhere:
 *
 *   acquire  DMA_BUF_IOCTL_EXPORT_SYNC_FILE(READ) gives the writes still pending on the buffer as a
 *            sync_file; EGL turns it into a native fence (EGL_ANDROID_native_fence_sync) and
 *            eglWaitSyncKHR makes the GPU, not the thread, wait for it before the next draw.
 *   release  a native fence after OBS's last draw of the buffer, exported as a sync_file and attached
 *            to the buffer as a read fence (DMA_BUF_IOCTL_IMPORT_SYNC_FILE), so the next write into it
 *            waits for OBS's reads.
 *
 * Neither capture protocol carries fences; the DMA-BUF's reservation object is where compositors'
 * drivers leave them (implicit sync), and these two ioctls bridge it to explicit fences.
 *
 * Why EGL here and not OBS's gs_sync_* (OBS >= 31.1): gs_sync works on DRM syncobj timeline points,
 * so a sync_file would need a DRM device fd, a syncobj and two more ioctls per frame on the render
 * thread to reach the same EGL native fence that gs_sync builds internally. Why C and not PyOpenGL:
 * this runs on OBS's render thread every frame, which never enters Python.
 *
 * The EGL entry points come from the libEGL that OBS's renderer already loaded (no build dependency
 * on EGL headers, and no second EGL in the process). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <linux/dma-buf.h>
#include <obs-module.h>

#include "render_sync.h"

#ifndef DMA_BUF_IOCTL_EXPORT_SYNC_FILE /* Linux 6.0 uapi; older headers lack them */
struct dma_buf_export_sync_file {
	__u32 flags;
	__s32 fd;
};
struct dma_buf_import_sync_file {
	__u32 flags;
	__s32 fd;
};
#define DMA_BUF_IOCTL_EXPORT_SYNC_FILE _IOWR(DMA_BUF_BASE, 2, struct dma_buf_export_sync_file)
#define DMA_BUF_IOCTL_IMPORT_SYNC_FILE _IOW(DMA_BUF_BASE, 3, struct dma_buf_import_sync_file)
#endif

/* The few EGL types and constants used (EGL 1.4, EGL_KHR_fence_sync, EGL_KHR_wait_sync,
 * EGL_ANDROID_native_fence_sync). */
typedef void *EGLDisplay;
typedef void *EGLSyncKHR;
typedef int32_t EGLint;
typedef unsigned int EGLBoolean;
typedef unsigned int EGLenum;
#define EGL_EXTENSIONS 0x3055
#define EGL_NONE 0x3038
#define EGL_SYNC_NATIVE_FENCE_ANDROID 0x3144
#define EGL_SYNC_NATIVE_FENCE_FD_ANDROID 0x3145
#define EGL_NO_NATIVE_FENCE_FD_ANDROID (-1)

#define MAX_PLANES 4

/* The render thread writes decided/available/reason; Python reads them for the status line. */
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
	bool decided;
	bool available;
	char reason[256];
	EGLDisplay (*get_current_display)(void);
	EGLint (*get_error)(void);
	EGLSyncKHR (*create_sync)(EGLDisplay, EGLenum, const EGLint *);
	EGLBoolean (*destroy_sync)(EGLDisplay, EGLSyncKHR);
	EGLint (*wait_sync)(EGLDisplay, EGLSyncKHR, EGLint);
	EGLint (*dup_native_fence_fd)(EGLDisplay, EGLSyncKHR);
} egl;

static bool has_extension(const char *list, const char *name)
{
	size_t length = strlen(name);
	for (const char *p = list; p && (p = strstr(p, name)); p += length) {
		if ((p == list || p[-1] == ' ') && (p[length] == ' ' || p[length] == '\0'))
			return true;
	}
	return false;
}

/* After this, every call falls back to implicit sync; logged once. */
static void disable(const char *reason)
{
	if (egl.decided && !egl.available)
		return;
	pthread_mutex_lock(&status_lock);
	egl.decided = true;
	egl.available = false;
	snprintf(egl.reason, sizeof(egl.reason), "%s", reason);
	pthread_mutex_unlock(&status_lock);
	blog(LOG_WARNING, "[wlcap] explicit sync unavailable (%s): falling back to implicit sync", egl.reason);
}

/* OBS >= 31.1 declares gs_query_sync_capabilities; older libobs (e.g. Debian 12's 29) has none. */
static const char *gs_sync_note(void)
{
	bool (*query)(void) = (bool (*)(void))dlsym(RTLD_DEFAULT, "gs_query_sync_capabilities");
	if (!query)
		return "this OBS has no gs_sync_*";
	return query() ? "OBS's gs_sync_* works here too, on syncobj timelines" : "OBS's gs_sync_* reports no support";
}

static bool resolve(void **out, void *(*get_proc)(const char *), const char *name)
{
	*out = get_proc(name);
	return *out != NULL;
}

static void decide(void)
{
	/* The escape hatch for a driver whose fences misbehave (and the tests' way to compare). */
	const char *setting = getenv("WLCAP_EXPLICIT_SYNC");
	if (setting && strcmp(setting, "0") == 0) {
		disable("turned off by WLCAP_EXPLICIT_SYNC=0");
		return;
	}
	if (gs_get_device_type() != GS_DEVICE_OPENGL) {
		disable("OBS does not render with OpenGL");
		return;
	}
	/* RTLD_NOLOAD: only the libEGL OBS already uses (OBS built for GLX has none loaded). */
	void *lib = dlopen("libEGL.so.1", RTLD_LAZY | RTLD_NOLOAD);
	void *(*get_proc)(const char *) = lib ? (void *(*)(const char *))dlsym(lib, "eglGetProcAddress") : NULL;
	const char *(*query_string)(EGLDisplay, EGLint) =
			lib ? (const char *(*)(EGLDisplay, EGLint))dlsym(lib, "eglQueryString") : NULL;
	egl.get_current_display = lib ? (EGLDisplay (*)(void))dlsym(lib, "eglGetCurrentDisplay") : NULL;
	egl.get_error = lib ? (EGLint (*)(void))dlsym(lib, "eglGetError") : NULL;
	if (!get_proc || !query_string || !egl.get_current_display || !egl.get_error) {
		if (lib)
			dlclose(lib);
		disable("OBS's renderer does not use EGL");
		return;
	}
	/* The handle stays open: libEGL lives as long as OBS's renderer does. */
	EGLDisplay display = egl.get_current_display();
	if (!display) {
		disable("no EGL display is current on OBS's render thread");
		return;
	}
	const char *extensions = query_string(display, EGL_EXTENSIONS);
	static const char *const needed[] = {"EGL_KHR_fence_sync", "EGL_KHR_wait_sync", "EGL_ANDROID_native_fence_sync"};
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (!has_extension(extensions, needed[i])) {
			char reason[128];
			snprintf(reason, sizeof(reason), "EGL lacks %s", needed[i]);
			disable(reason);
			return;
		}
	}
	if (!resolve((void **)&egl.create_sync, get_proc, "eglCreateSyncKHR") ||
			!resolve((void **)&egl.destroy_sync, get_proc, "eglDestroySyncKHR") ||
			!resolve((void **)&egl.wait_sync, get_proc, "eglWaitSyncKHR") ||
			!resolve((void **)&egl.dup_native_fence_fd, get_proc, "eglDupNativeFenceFDANDROID")) {
		disable("EGL's fence functions cannot be resolved");
		return;
	}
	pthread_mutex_lock(&status_lock);
	egl.decided = true;
	egl.available = true;
	snprintf(egl.reason, sizeof(egl.reason), "EGL native fences");
	pthread_mutex_unlock(&status_lock);
	blog(LOG_INFO, "[wlcap] explicit sync: EGL native fences + DMA-BUF sync_files (%s)", gs_sync_note());
}

int render_sync_status(char *why, size_t size)
{
	pthread_mutex_lock(&status_lock);
	int status = !egl.decided ? 0 : egl.available ? 1 : 2;
	snprintf(why, size, "%s", egl.reason);
	pthread_mutex_unlock(&status_lock);
	return status;
}

/* Any failure ends explicit sync for the process: a driver that failed once would fail every frame,
 * and a fence path that works only sometimes is harder to reason about than implicit sync. */
static enum render_sync_result fail_ioctl(const char *what, int error)
{
	char reason[160];
	/* ENOTTY: a kernel older than 6.0, which has neither ioctl. */
	snprintf(reason, sizeof(reason), "%s: %s%s", what, strerror(error), error == ENOTTY ? " (Linux < 6.0)" : "");
	disable(reason);
	return RENDER_SYNC_FAILED;
}

static enum render_sync_result fail_egl(const char *what)
{
	char reason[160];
	snprintf(reason, sizeof(reason), "%s failed: EGL error 0x%x", what, egl.get_error());
	disable(reason);
	return RENDER_SYNC_FAILED;
}

static bool signalled(int fence_fd)
{
	struct pollfd p = {.fd = fence_fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1; /* a zero timeout: a look, never a wait */
}

/* The distinct fds among a frame's planes (planes of one buffer often share one fd). */
static size_t distinct_fds(const int *fds, uint32_t n_planes, int *out)
{
	size_t n = 0;
	for (uint32_t i = 0; i < n_planes && i < MAX_PLANES; i++) {
		bool seen = false;
		for (size_t j = 0; j < n; j++)
			seen |= out[j] == fds[i];
		if (!seen && fds[i] >= 0)
			out[n++] = fds[i];
	}
	return n;
}

enum render_sync_result render_sync_acquire(const int *fds, uint32_t n_planes)
{
	if (!egl.decided)
		decide();
	if (!egl.available)
		return RENDER_SYNC_FAILED;
	EGLDisplay display = egl.get_current_display();
	int planes[MAX_PLANES];
	size_t n = distinct_fds(fds, n_planes, planes);
	enum render_sync_result result = RENDER_SYNC_SIGNALLED;
	for (size_t i = 0; i < n; i++) {
		/* READ: the fences a reader has to wait for, i.e. the pending writes. CLOEXEC by the kernel. */
		struct dma_buf_export_sync_file exported = {.flags = DMA_BUF_SYNC_READ, .fd = -1};
		if (ioctl(planes[i], DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &exported) < 0)
			return fail_ioctl("DMA_BUF_IOCTL_EXPORT_SYNC_FILE", errno);
		if (signalled(exported.fd)) {
			close(exported.fd);
			continue;
		}
		const EGLint attributes[] = {EGL_SYNC_NATIVE_FENCE_FD_ANDROID, exported.fd, EGL_NONE};
		EGLSyncKHR sync = egl.create_sync(display, EGL_SYNC_NATIVE_FENCE_ANDROID, attributes);
		if (!sync) { /* EGL took the fd only on success */
			close(exported.fd);
			return fail_egl("eglCreateSyncKHR(EGL_SYNC_NATIVE_FENCE_FD_ANDROID)");
		}
		bool waited = egl.wait_sync(display, sync, 0) == 1; /* EGL_TRUE */
		egl.destroy_sync(display, sync); /* the queued wait keeps what it needs */
		if (!waited)
			return fail_egl("eglWaitSyncKHR");
		result = RENDER_SYNC_QUEUED;
	}
	return result;
}

int render_sync_attach_read_fence(const int *fds, uint32_t n_planes, int fence)
{
	int planes[MAX_PLANES];
	size_t n = distinct_fds(fds, n_planes, planes);
	for (size_t i = 0; i < n; i++) {
		/* READ: OBS only read the buffer; a later writer waits for read fences, other readers do not. */
		struct dma_buf_import_sync_file imported = {.flags = DMA_BUF_SYNC_READ, .fd = fence};
		if (ioctl(planes[i], DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &imported) < 0)
			return errno;
	}
	return 0;
}

enum render_sync_result render_sync_release(const int *fds, uint32_t n_planes)
{
	if (!egl.decided)
		decide();
	if (!egl.available)
		return RENDER_SYNC_FAILED;
	EGLDisplay display = egl.get_current_display();
	const EGLint attributes[] = {EGL_NONE};
	EGLSyncKHR sync = egl.create_sync(display, EGL_SYNC_NATIVE_FENCE_ANDROID, attributes);
	if (!sync)
		return fail_egl("eglCreateSyncKHR(EGL_SYNC_NATIVE_FENCE_ANDROID)");
	gs_flush(); /* the fence's fd exists once the commands before it are submitted */
	int fence = egl.dup_native_fence_fd(display, sync);
	egl.destroy_sync(display, sync);
	if (fence == EGL_NO_NATIVE_FENCE_FD_ANDROID)
		return fail_egl("eglDupNativeFenceFDANDROID");
	int error = render_sync_attach_read_fence(fds, n_planes, fence);
	close(fence);
	if (error)
		return fail_ioctl("DMA_BUF_IOCTL_IMPORT_SYNC_FILE", error);
	return RENDER_SYNC_QUEUED;
}
