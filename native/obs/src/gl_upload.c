/* libobs can only replace a whole texture (gs_texture_set_image), but a frame in which a terminal's
 * cursor blinked changed a few hundred of its two million pixels. Under OBS's OpenGL renderer (the one
 * it has on Linux) this uploads just the changed rectangles with glTexSubImage2D, and puts back the
 * texture binding and unpack state it touched: libobs caches them. */
#include "gl_upload.h"

#include <dlfcn.h>
#include <pthread.h>

typedef unsigned int GLenum;
typedef int GLint;
typedef int GLsizei;
typedef unsigned int GLuint;

#define GL_TEXTURE_2D 0x0DE1
#define GL_TEXTURE_BINDING_2D 0x8069
#define GL_UNPACK_ROW_LENGTH 0x0CF2
#define GL_UNPACK_ALIGNMENT 0x0CF5
#define GL_PIXEL_UNPACK_BUFFER 0x88EC
#define GL_PIXEL_UNPACK_BUFFER_BINDING 0x88EF
#define GL_RGBA 0x1908
#define GL_BGRA 0x80E1
#define GL_UNSIGNED_BYTE 0x1401
#define GL_UNSIGNED_INT_2_10_10_10_REV 0x8368
#define GL_HALF_FLOAT 0x140B

static struct {
	void (*GetIntegerv)(GLenum, GLint *);
	void (*BindTexture)(GLenum, GLuint);
	void (*BindBuffer)(GLenum, GLuint);
	void (*PixelStorei)(GLenum, GLint);
	void (*TexSubImage2D)(GLenum, GLint, GLint, GLint, GLsizei, GLsizei, GLenum, GLenum, const void *);
	bool usable;
} gl;
static pthread_once_t gl_once = PTHREAD_ONCE_INIT;

/* OBS's renderer loads its GL libraries itself, privately (RTLD_LOCAL): look in those it has loaded
 * (RTLD_NOLOAD opens nothing new), then ask its libEGL. The handles stay open as long as OBS's. */
static void *gl_libraries[3];
static void *(*egl_get_proc)(const char *);

static void *gl_entry(const char *name)
{
	void *entry = dlsym(RTLD_DEFAULT, name);
	for (size_t i = 0; !entry && i < sizeof(gl_libraries) / sizeof(gl_libraries[0]); i++)
		entry = gl_libraries[i] ? dlsym(gl_libraries[i], name) : NULL;
	return entry ? entry : egl_get_proc ? egl_get_proc(name) : NULL;
}

static void load_gl(void)
{
	gl_libraries[0] = dlopen("libOpenGL.so.0", RTLD_LAZY | RTLD_NOLOAD);
	gl_libraries[1] = dlopen("libGL.so.1", RTLD_LAZY | RTLD_NOLOAD);
	gl_libraries[2] = dlopen("libEGL.so.1", RTLD_LAZY | RTLD_NOLOAD);
	if (gl_libraries[2])
		*(void **)&egl_get_proc = dlsym(gl_libraries[2], "eglGetProcAddress");
	*(void **)&gl.GetIntegerv = gl_entry("glGetIntegerv");
	*(void **)&gl.BindTexture = gl_entry("glBindTexture");
	*(void **)&gl.BindBuffer = gl_entry("glBindBuffer");
	*(void **)&gl.PixelStorei = gl_entry("glPixelStorei");
	*(void **)&gl.TexSubImage2D = gl_entry("glTexSubImage2D");
	gl.usable = gl.GetIntegerv && gl.BindTexture && gl.BindBuffer && gl.PixelStorei && gl.TexSubImage2D;
}

/* What OBS's OpenGL renderer itself uploads each of these texture formats with. */
static bool gl_format_of(enum gs_color_format gs, GLenum *format, GLenum *type)
{
	switch (gs) {
	case GS_BGRX:
	case GS_BGRA:
		*format = GL_BGRA;
		*type = GL_UNSIGNED_BYTE;
		return true;
	case GS_RGBA:
		*format = GL_RGBA;
		*type = GL_UNSIGNED_BYTE;
		return true;
	case GS_R10G10B10A2:
		*format = GL_RGBA;
		*type = GL_UNSIGNED_INT_2_10_10_10_REV;
		return true;
	case GS_RGBA16F:
		*format = GL_RGBA;
		*type = GL_HALF_FLOAT;
		return true;
	default:
		return false;
	}
}

bool gl_upload_rects(gs_texture_t *texture, const struct pixel_format *format, const void *data, uint32_t stride,
		const struct wlcap_rect *rects, uint32_t n_rects)
{
	GLenum gl_format, gl_type;
	if (gs_get_device_type() != GS_DEVICE_OPENGL || !gl_format_of(format->gs, &gl_format, &gl_type) ||
			stride % format->bytes_per_pixel != 0)
		return false;
	pthread_once(&gl_once, load_gl);
	const GLuint *name = gs_texture_get_obj(texture);
	if (!gl.usable || !name)
		return false;

	GLint bound_texture = 0, bound_unpack = 0, row_length = 0, alignment = 4;
	gl.GetIntegerv(GL_TEXTURE_BINDING_2D, &bound_texture);
	gl.GetIntegerv(GL_PIXEL_UNPACK_BUFFER_BINDING, &bound_unpack);
	gl.GetIntegerv(GL_UNPACK_ROW_LENGTH, &row_length);
	gl.GetIntegerv(GL_UNPACK_ALIGNMENT, &alignment);
	gl.BindTexture(GL_TEXTURE_2D, *name);
	gl.BindBuffer(GL_PIXEL_UNPACK_BUFFER, 0); /* from client memory, not a buffer object */
	gl.PixelStorei(GL_UNPACK_ROW_LENGTH, (GLint)(stride / format->bytes_per_pixel));
	gl.PixelStorei(GL_UNPACK_ALIGNMENT, 4);
	for (uint32_t i = 0; i < n_rects; i++) {
		const struct wlcap_rect *r = &rects[i];
		const uint8_t *first = (const uint8_t *)data + (size_t)r->y * stride + (size_t)r->x * format->bytes_per_pixel;
		gl.TexSubImage2D(GL_TEXTURE_2D, 0, r->x, r->y, r->width, r->height, gl_format, gl_type, first);
	}
	gl.PixelStorei(GL_UNPACK_ALIGNMENT, alignment);
	gl.PixelStorei(GL_UNPACK_ROW_LENGTH, row_length);
	gl.BindBuffer(GL_PIXEL_UNPACK_BUFFER, (GLuint)bound_unpack);
	gl.BindTexture(GL_TEXTURE_2D, (GLuint)bound_texture);
	return true;
}
