/* Where a captured frame's pixels land in the source: y_invert, the output transform and the crop,
 * as one affine map from buffer pixels to source pixels (what draw_frame hands OBS as a matrix). */
#pragma once

#include <stdint.h>

#include <graphics/matrix4.h>

struct wlcap_frame_desc; /* obs_source.h, which has no include guard: cffi reads it too */

/* An affine map of the plane, x' = a*x + b*y + tx, y' = c*x + d*y + ty. */
struct affine {
	float a, b, c, d, tx, ty;
};

struct affine affine_then(struct affine first, struct affine second);
void affine_apply(struct affine m, float x, float y, float *ox, float *oy);
/* The same map as the 4x4 matrix gs_matrix_mul takes. */
void affine_to_matrix4(struct affine m, struct matrix4 *out);

struct frame_geometry {
	struct affine buffer_to_source; /* buffer pixels -> source pixels (upright, crop origin at 0,0) */
	float bx, by, bw, bh;           /* the part of the buffer the source shows, in buffer pixels */
};

void frame_geometry_compute(const struct wlcap_frame_desc *f, struct frame_geometry *out);
/* The size OBS lays the source out with: the crop, else the upright frame. */
void frame_size(const struct wlcap_frame_desc *f, uint32_t *width, uint32_t *height);
