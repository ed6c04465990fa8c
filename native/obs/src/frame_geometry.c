#include <stdbool.h>
#include <stddef.h>

#include "frame_geometry.h"
#include "obs_source.h"

struct affine affine_then(struct affine first, struct affine second)
{
	struct affine r;
	r.a = second.a * first.a + second.b * first.c;
	r.b = second.a * first.b + second.b * first.d;
	r.c = second.c * first.a + second.d * first.c;
	r.d = second.c * first.b + second.d * first.d;
	r.tx = second.a * first.tx + second.b * first.ty + second.tx;
	r.ty = second.c * first.tx + second.d * first.ty + second.ty;
	return r;
}

void affine_apply(struct affine m, float x, float y, float *ox, float *oy)
{
	*ox = m.a * x + m.b * y + m.tx;
	*oy = m.c * x + m.d * y + m.ty;
}

void affine_to_matrix4(struct affine m, struct matrix4 *out)
{
	vec4_set(&out->x, m.a, m.c, 0.0f, 0.0f);
	vec4_set(&out->y, m.b, m.d, 0.0f, 0.0f);
	vec4_set(&out->z, 0.0f, 0.0f, 1.0f, 0.0f);
	vec4_set(&out->t, m.tx, m.ty, 0.0f, 1.0f);
}

/* Buffer coordinates to upright output coordinates: undo y_invert, then the output transform (the
 * same order as capture/image.py on the CPU). Sets the upright size. */
static struct affine buffer_to_upright(const struct wlcap_frame_desc *f, float *up_w, float *up_h)
{
	float w = (float)f->width, h = (float)f->height;
	struct affine m = {1, 0, 0, 1, 0, 0};
	if (f->y_invert)
		m = (struct affine){1, 0, 0, -1, 0, h};
	struct affine rotation;
	switch (f->transform % 4) {
	case 1: rotation = (struct affine){0, -1, 1, 0, h, 0}; break;  /* (x,y) -> (h - y, x) */
	case 2: rotation = (struct affine){-1, 0, 0, -1, w, h}; break; /* (x,y) -> (w - x, h - y) */
	case 3: rotation = (struct affine){0, 1, -1, 0, 0, w}; break;  /* (x,y) -> (y, w - x) */
	default: rotation = (struct affine){1, 0, 0, 1, 0, 0}; break;
	}
	m = affine_then(m, rotation);
	*up_w = f->transform % 2 ? h : w;
	*up_h = f->transform % 2 ? w : h;
	if (f->transform >= 4)
		m = affine_then(m, (struct affine){-1, 0, 0, 1, *up_w, 0});
	return m;
}

void frame_size(const struct wlcap_frame_desc *f, uint32_t *width, uint32_t *height)
{
	if (f->crop_width > 0) {
		*width = (uint32_t)f->crop_width;
		*height = (uint32_t)f->crop_height;
	} else {
		*width = f->transform % 2 ? f->height : f->width;
		*height = f->transform % 2 ? f->width : f->height;
	}
}

void frame_geometry_compute(const struct wlcap_frame_desc *f, struct frame_geometry *out)
{
	float up_w, up_h;
	struct affine to_upright = buffer_to_upright(f, &up_w, &up_h);
	float cx = 0, cy = 0, cw = up_w, ch = up_h;
	if (f->crop_width > 0) {
		cx = (float)f->crop_x;
		cy = (float)f->crop_y;
		cw = (float)f->crop_width;
		ch = (float)f->crop_height;
	}
	/* The crop rectangle in buffer coordinates: the inverse map of its corners (the linear part is a
	 * signed permutation, so its inverse is its transpose). */
	struct affine inverse = {to_upright.a, to_upright.c, to_upright.b, to_upright.d, 0, 0};
	inverse.tx = -(inverse.a * to_upright.tx + inverse.b * to_upright.ty);
	inverse.ty = -(inverse.c * to_upright.tx + inverse.d * to_upright.ty);
	float x0, y0, x1, y1;
	affine_apply(inverse, cx, cy, &x0, &y0);
	affine_apply(inverse, cx + cw, cy + ch, &x1, &y1);
	out->bx = x0 < x1 ? x0 : x1;
	out->by = y0 < y1 ? y0 : y1;
	out->bw = x0 < x1 ? x1 - x0 : x0 - x1;
	out->bh = y0 < y1 ? y1 - y0 : y0 - y1;
	out->buffer_to_source = to_upright;
	out->buffer_to_source.tx -= cx;
	out->buffer_to_source.ty -= cy;
}
