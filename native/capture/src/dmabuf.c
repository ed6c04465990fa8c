/* GBM allocation of capture buffers, a DRM device's nodes (libdrm) and which of them can allocate,
 * DMA-BUF CPU-access ioctls and the fences on a DMA-BUF. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <gbm.h>
#include <linux/dma-buf.h>
#include <linux/sync_file.h>
#include <virtgpu_drm.h>
#include <xf86drm.h>

#include "dmabuf.h"

#ifndef DRM_FORMAT_MOD_INVALID
#define DRM_FORMAT_MOD_INVALID ((1ULL << 56) - 1)
#endif
#define DRM_FORMAT_MOD_LINEAR_VALUE 0ULL

struct wlcap_gbm {
	int fd;
	struct gbm_device *device;
};

struct wlcap_gbm *wlcap_gbm_create(const char *path, char *err, size_t err_len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	struct gbm_device *device = gbm_create_device(fd);
	if (!device) {
		snprintf(err, err_len, "gbm_create_device failed on %s", path);
		close(fd);
		return NULL;
	}
	struct wlcap_gbm *gbm = calloc(1, sizeof(*gbm));
	if (!gbm) {
		snprintf(err, err_len, "out of memory");
		gbm_device_destroy(device);
		close(fd);
		return NULL;
	}
	gbm->fd = fd;
	gbm->device = device;
	return gbm;
}

void wlcap_gbm_destroy(struct wlcap_gbm *gbm)
{
	if (!gbm)
		return;
	gbm_device_destroy(gbm->device);
	close(gbm->fd);
	free(gbm);
}

const char *wlcap_gbm_backend_name(struct wlcap_gbm *gbm)
{
	return gbm ? gbm_device_get_backend_name(gbm->device) : "";
}

static bool only_modifier(const uint64_t *modifiers, size_t n, uint64_t wanted)
{
	for (size_t i = 0; i < n; i++) {
		if (modifiers[i] != wanted)
			return false;
	}
	return n > 0;
}

static struct gbm_bo *allocate_bo(struct wlcap_gbm *gbm, uint32_t width, uint32_t height,
		uint32_t format, const uint64_t *modifiers, size_t n_modifiers)
{
	if (n_modifiers == 0 || only_modifier(modifiers, n_modifiers, DRM_FORMAT_MOD_INVALID))
		return gbm_bo_create(gbm->device, width, height, format, GBM_BO_USE_RENDERING);
	if (only_modifier(modifiers, n_modifiers, DRM_FORMAT_MOD_LINEAR_VALUE))
		return gbm_bo_create(gbm->device, width, height, format,
				GBM_BO_USE_RENDERING | GBM_BO_USE_LINEAR);
	/* An explicit list: let the driver pick its best among them, ignoring INVALID. */
	uint64_t explicit_mods[64];
	unsigned int n_explicit = 0;
	for (size_t i = 0; i < n_modifiers && n_explicit < 64; i++) {
		if (modifiers[i] != DRM_FORMAT_MOD_INVALID)
			explicit_mods[n_explicit++] = modifiers[i];
	}
	return gbm_bo_create_with_modifiers2(gbm->device, width, height, format, explicit_mods,
			n_explicit, GBM_BO_USE_RENDERING);
}

bool wlcap_dmabuf_create(struct wlcap_gbm *gbm, uint32_t width, uint32_t height, uint32_t format,
		const uint64_t *modifiers, size_t n_modifiers, struct wlcap_dmabuf *out,
		char *err, size_t err_len)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < WLCAP_MAX_PLANES; i++)
		out->fds[i] = -1;

	struct gbm_bo *bo = allocate_bo(gbm, width, height, format, modifiers, n_modifiers);
	if (!bo) {
		snprintf(err, err_len, "gbm cannot allocate %ux%u format 0x%08x (%zu modifiers): %s",
				width, height, format, n_modifiers, strerror(errno));
		return false;
	}
	out->bo = bo;
	out->width = width;
	out->height = height;
	out->format = format;
	out->modifier = gbm_bo_get_modifier(bo);
	int n_planes = gbm_bo_get_plane_count(bo);
	if (n_planes < 1 || n_planes > WLCAP_MAX_PLANES) {
		snprintf(err, err_len, "gbm buffer has %d planes", n_planes);
		wlcap_dmabuf_finish(out);
		return false;
	}
	out->n_planes = (uint32_t)n_planes;
	for (int i = 0; i < n_planes; i++) {
		out->fds[i] = gbm_bo_get_fd_for_plane(bo, i);
		if (out->fds[i] < 0) {
			snprintf(err, err_len, "cannot export plane %d of the gbm buffer", i);
			wlcap_dmabuf_finish(out);
			return false;
		}
		out->strides[i] = gbm_bo_get_stride_for_plane(bo, i);
		out->offsets[i] = gbm_bo_get_offset(bo, i);
	}
	return true;
}

void wlcap_dmabuf_finish(struct wlcap_dmabuf *buf)
{
	if (!buf)
		return;
	for (int i = 0; i < WLCAP_MAX_PLANES; i++) {
		if (buf->fds[i] >= 0)
			close(buf->fds[i]);
		buf->fds[i] = -1;
	}
	if (buf->bo)
		gbm_bo_destroy(buf->bo);
	buf->bo = NULL;
	buf->n_planes = 0;
}

int wlcap_dmabuf_sync(int fd, uint64_t flags)
{
	struct dma_buf_sync sync = {0};
	sync.flags = (flags & WLCAP_SYNC_END ? DMA_BUF_SYNC_END : DMA_BUF_SYNC_START)
		| (flags & WLCAP_SYNC_READ ? DMA_BUF_SYNC_READ : 0)
		| (flags & WLCAP_SYNC_WRITE ? DMA_BUF_SYNC_WRITE : 0);
	while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0) {
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	return 0;
}

/* Drivers whose devices scan out or share buffers but have no GPU Mesa renders with. On their render
 * node (vgem has one) Mesa's GBM falls back to its software path, which needs dumb buffers, and
 * render nodes refuse those. */
static const char *const display_only_drivers[] = {
	"vgem", "vkms", "simpledrm", "udl", "evdi", "gud", "bochs-drm", "cirrus", "qxl", "vboxvideo",
	"hyperv_drm", "ast", "mgag200",
};

/* virtio-gpu renders (virgl, venus) only when the host gave it 3D; without, Mesa takes the same
 * software path as above. */
static bool virtio_gpu_has_3d(int fd)
{
	int value = 0;
	struct drm_virtgpu_getparam param = {.param = VIRTGPU_PARAM_3D_FEATURES, .value = (uintptr_t)&value};
	return drmIoctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &param) == 0 && value != 0;
}

int wlcap_drm_node_renders(const char *path, char *driver, size_t driver_len)
{
	if (driver_len)
		driver[0] = '\0';
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	drmVersionPtr version = drmGetVersion(fd);
	if (!version) {
		int err = errno ? -errno : -EINVAL;
		close(fd);
		return err;
	}
	snprintf(driver, driver_len, "%s", version->name);
	int renders = 1;
	if (strcmp(version->name, "virtio_gpu") == 0) {
		renders = virtio_gpu_has_3d(fd);
	} else {
		for (size_t i = 0; i < sizeof(display_only_drivers) / sizeof(display_only_drivers[0]); i++) {
			if (strcmp(version->name, display_only_drivers[i]) == 0)
				renders = 0;
		}
	}
	drmFreeVersion(version);
	close(fd);
	return renders;
}

/* Where a node is missing, its name stays "". */
static void copy_node(const drmDevice *device, int type, char *out, size_t out_len)
{
	if (device->available_nodes & (1 << type))
		snprintf(out, out_len, "%s", device->nodes[type]);
}

int wlcap_drm_nodes_for_device(uint64_t dev, char *render, size_t render_len, char *primary, size_t primary_len,
		char *err, size_t err_len)
{
	if (render_len)
		render[0] = '\0';
	if (primary_len)
		primary[0] = '\0';
	drmDevicePtr device = NULL;
	int ret = drmGetDeviceFromDevId((dev_t)dev, 0, &device);
	if (ret == -ENODEV) {
		snprintf(err, err_len, "libdrm finds none of its nodes in %s", DRM_DIR_NAME);
		return ret;
	}
	if (ret == -EINVAL) {
		snprintf(err, err_len, "not a DRM device, or on a bus libdrm does not know (drmGetDeviceFromDevId: %s)",
				strerror(-ret));
		return ret;
	}
	if (ret < 0) {
		snprintf(err, err_len, "drmGetDeviceFromDevId failed: %s", strerror(-ret));
		return ret;
	}
	const bool usable = device->available_nodes & (1 << DRM_NODE_RENDER | 1 << DRM_NODE_PRIMARY);
	copy_node(device, DRM_NODE_RENDER, render, render_len);
	copy_node(device, DRM_NODE_PRIMARY, primary, primary_len);
	drmFreeDevice(&device);
	if (!usable) {
		snprintf(err, err_len, "it has neither a render node nor a primary node");
		return -ENOENT;
	}
	return 0;
}

#ifndef DMA_BUF_IOCTL_EXPORT_SYNC_FILE /* Linux 6.0 uapi; older headers lack it */
struct dma_buf_export_sync_file {
	__u32 flags;
	__s32 fd;
};
#define DMA_BUF_IOCTL_EXPORT_SYNC_FILE _IOWR(DMA_BUF_BASE, 2, struct dma_buf_export_sync_file)
#endif

int wlcap_dmabuf_export_write_fence(int dmabuf_fd)
{
	/* READ: the fences a reader must wait for, which are the writes. */
	struct dma_buf_export_sync_file export = {.flags = DMA_BUF_SYNC_READ, .fd = -1};
	if (drmIoctl(dmabuf_fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &export) < 0)
		return -errno;
	return export.fd;
}

#define MAX_FENCES 16

int wlcap_sync_file_state(int sync_fd, uint64_t *latest_ns)
{
	*latest_ns = 0;
	struct sync_fence_info fences[MAX_FENCES];
	memset(fences, 0, sizeof(fences));
	struct sync_file_info info = {0};
	if (ioctl(sync_fd, SYNC_IOC_FILE_INFO, &info) < 0) /* num_fences 0: just count them */
		return -errno;
	uint32_t n = info.num_fences < MAX_FENCES ? info.num_fences : MAX_FENCES;
	memset(&info, 0, sizeof(info));
	info.num_fences = n;
	info.sync_fence_info = (uint64_t)(uintptr_t)fences;
	if (ioctl(sync_fd, SYNC_IOC_FILE_INFO, &info) < 0)
		return -errno;
	int state = 1;
	for (uint32_t i = 0; i < n; i++) {
		if (fences[i].status < 0)
			return fences[i].status;
		if (fences[i].status == 0)
			state = 0;
		else if (fences[i].timestamp_ns > *latest_ns)
			*latest_ns = fences[i].timestamp_ns;
	}
	return state;
}
