/* Declarations shared by the C sources and cffi's cdef (so: no includes, no guards, no macros
 * but integer constants). Read by native/capture/build_ffi.py in the order listed there. */

#define WLCAP_MAX_PLANES 4
#define WLCAP_ERR_LEN 256

/* One allocated DMA-BUF: a GBM buffer object and the fds of its planes, owned by this struct. */
struct wlcap_dmabuf {
	void *bo;                          /* struct gbm_bo * */
	uint32_t width, height;
	uint32_t format;                   /* DRM fourcc */
	uint64_t modifier;                 /* DRM_FORMAT_MOD_*, DRM_FORMAT_MOD_INVALID if implicit */
	uint32_t n_planes;
	int fds[WLCAP_MAX_PLANES];         /* -1 where unused */
	uint32_t strides[WLCAP_MAX_PLANES];
	uint32_t offsets[WLCAP_MAX_PLANES];
};

struct wlcap_gbm;

/* Open the DRM node at path (a render node, or a card node) and create a GBM device on it.
 * Returns NULL and fills err on failure. */
struct wlcap_gbm *wlcap_gbm_create(const char *path, char *err, size_t err_len);
void wlcap_gbm_destroy(struct wlcap_gbm *gbm);
const char *wlcap_gbm_backend_name(struct wlcap_gbm *gbm);

/* Allocate a buffer the compositor can render into. modifiers lists the modifiers it accepts for
 * format; an empty list (or one holding only DRM_FORMAT_MOD_INVALID) asks for an implicit
 * modifier, and a list holding only DRM_FORMAT_MOD_LINEAR for a linear buffer. */
bool wlcap_dmabuf_create(struct wlcap_gbm *gbm, uint32_t width, uint32_t height, uint32_t format,
		const uint64_t *modifiers, size_t n_modifiers, struct wlcap_dmabuf *out,
		char *err, size_t err_len);
/* Close the plane fds and free the buffer object; accepts a zeroed or already finished struct. */
void wlcap_dmabuf_finish(struct wlcap_dmabuf *buf);

/* DMA_BUF_IOCTL_SYNC around CPU access; flags are WLCAP_SYNC_* below. Returns 0 or -errno. */
#define WLCAP_SYNC_READ 1
#define WLCAP_SYNC_WRITE 2
#define WLCAP_SYNC_START 0
#define WLCAP_SYNC_END 4
int wlcap_dmabuf_sync(int fd, uint64_t flags);

/* Whether GBM can allocate on the DRM node at path: 1 yes, 0 no (a device without a GPU Mesa renders
 * with, or virtio-gpu without 3D: Mesa would fall back to dumb buffers, which a render node refuses;
 * allocate on the device's primary node instead), -errno when the node cannot be asked. driver gets
 * the kernel driver's name. */
int wlcap_drm_node_renders(const char *path, char *driver, size_t driver_len);

/* The nodes of the DRM device that dev_t `dev` (any of its nodes) belongs to, as libdrm finds them in
 * /dev/dri (drmGetDeviceFromDevId): its render node and its primary node, each "" where the device has
 * none. Returns 0, or -errno with err saying why. */
int wlcap_drm_nodes_for_device(uint64_t dev, char *render, size_t render_len, char *primary, size_t primary_len,
		char *err, size_t err_len);

/* The writes pending on a DMA-BUF as a sync_file fd (DMA_BUF_IOCTL_EXPORT_SYNC_FILE, Linux 6.0), or
 * -errno. A buffer no writer fenced gives an already signalled stub fence. */
int wlcap_dmabuf_export_write_fence(int dmabuf_fd);
/* The state of a sync_file: 1 every fence signalled (*latest_ns: the latest signal time, on
 * CLOCK_MONOTONIC), 0 some still pending, or a negative errno (a fence signalled an error). */
int wlcap_sync_file_state(int sync_fd, uint64_t *latest_ns);
