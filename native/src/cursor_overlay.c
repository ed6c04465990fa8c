#include "cursor_overlay.h"

#include <stdlib.h>
#include <string.h>

bool cursor_overlay_set_image(struct cursor_overlay *cursor, const uint8_t *pixels, uint32_t width,
		uint32_t height, uint32_t stride, enum gs_color_format format, int32_t hotspot_x, int32_t hotspot_y)
{
	if (format == GS_UNKNOWN || width == 0 || height == 0 || stride < width * 4)
		return false;
	uint8_t *copy = malloc((size_t)width * 4 * height);
	if (!copy)
		return false;
	for (uint32_t row = 0; row < height; row++)
		memcpy(copy + (size_t)row * width * 4, pixels + (size_t)row * stride, (size_t)width * 4);
	free(cursor->pending);
	cursor->pending = copy;
	cursor->pending_width = width;
	cursor->pending_height = height;
	cursor->pending_format = format;
	cursor->pending_hotspot_x = hotspot_x;
	cursor->pending_hotspot_y = hotspot_y;
	return true;
}

void cursor_overlay_set_position(struct cursor_overlay *cursor, bool inside, int32_t x, int32_t y)
{
	cursor->inside = inside;
	cursor->x = x;
	cursor->y = y;
}

void cursor_overlay_reset(struct cursor_overlay *cursor)
{
	free(cursor->pending);
	cursor->pending = NULL;
	cursor->inside = false;
	cursor->has_image = false;
}

/* The newest image into the texture; a cursor changes seldom, so a new texture each time. */
static void upload_pending(struct cursor_overlay *cursor)
{
	gs_texture_destroy(cursor->texture);
	const uint8_t *data = cursor->pending;
	cursor->texture = gs_texture_create(cursor->pending_width, cursor->pending_height, cursor->pending_format,
			1, &data, 0);
	cursor->width = cursor->pending_width;
	cursor->height = cursor->pending_height;
	cursor->hotspot_x = cursor->pending_hotspot_x;
	cursor->hotspot_y = cursor->pending_hotspot_y;
	cursor->has_image = cursor->texture != NULL;
	cursor->uploads++;
	free(cursor->pending);
	cursor->pending = NULL;
}

static float max_f(float a, float b)
{
	return a > b ? a : b;
}

static float min_f(float a, float b)
{
	return a < b ? a : b;
}

void cursor_overlay_draw(struct cursor_overlay *cursor, const struct frame_geometry *geometry)
{
	if (cursor->pending)
		upload_pending(cursor);
	if (!cursor->shown || !cursor->inside || !cursor->has_image)
		return;
	/* The image's rectangle in buffer pixels, clipped to the part of the buffer the source shows:
	 * the cursor never spills over the source's edges. */
	const float left = (float)(cursor->x - cursor->hotspot_x), top = (float)(cursor->y - cursor->hotspot_y);
	const float x0 = max_f(left, geometry->bx), y0 = max_f(top, geometry->by);
	const float x1 = min_f(left + (float)cursor->width, geometry->bx + geometry->bw);
	const float y1 = min_f(top + (float)cursor->height, geometry->by + geometry->bh);
	if (x1 <= x0 || y1 <= y0)
		return;

	struct matrix4 matrix;
	affine_to_matrix4(affine_then((struct affine){1, 0, 0, 1, x0, y0}, geometry->buffer_to_source), &matrix);
	gs_effect_t *effect = obs_get_base_effect(OBS_EFFECT_DEFAULT);
	gs_eparam_t *image = gs_effect_get_param_by_name(effect, "image");
	/* Our own texture, as draw_frame's copied frames: decoded from sRGB and encoded again. */
	const bool previous_srgb = gs_framebuffer_srgb_enabled();
	gs_enable_framebuffer_srgb(true);
	gs_effect_set_texture_srgb(image, cursor->texture);
	gs_blend_state_push();
	gs_blend_function(GS_BLEND_ONE, GS_BLEND_INVSRCALPHA); /* Wayland buffers are premultiplied */
	gs_matrix_push();
	gs_matrix_mul(&matrix);
	while (gs_effect_loop(effect, "Draw"))
		gs_draw_sprite_subregion(cursor->texture, 0, (uint32_t)(x0 - left), (uint32_t)(y0 - top),
				(uint32_t)(x1 - x0), (uint32_t)(y1 - y0));
	gs_matrix_pop();
	gs_blend_state_pop();
	gs_enable_framebuffer_srgb(previous_srgb);
	cursor->draws++;
}

void cursor_overlay_free(struct cursor_overlay *cursor)
{
	cursor_overlay_reset(cursor);
	gs_texture_destroy(cursor->texture);
	cursor->texture = NULL;
}
