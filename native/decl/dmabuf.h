/* Declarations shared by the C sources and cffi's cdef (so: no includes, no guards, no macros
 * but integer constants). Read by native/build_ffi.py in the order listed there. */

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
