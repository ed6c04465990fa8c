#include "cursor_overlay.h"

#include <stdlib.h>
#include <string.h>

bool cursor_image_copy(struct cursor_image *out, const uint8_t *pixels, uint32_t width, uint32_t height,
		uint32_t stride, enum gs_color_format format, int32_t hotspot_x, int32_t hotspot_y)
{
	memset(out, 0, sizeof(*out));
	if (format == GS_UNKNOWN || width == 0 || height == 0 || stride < width * 4)
		return false;
	uint8_t *copy = malloc((size_t)width * 4 * height);
	if (!copy)
		return false;
	for (uint32_t row = 0; row < height; row++)
		memcpy(copy + (size_t)row * width * 4, pixels + (size_t)row * stride, (size_t)width * 4);
	*out = (struct cursor_image){.pixels = copy, .width = width, .height = height, .format = format,
			.hotspot_x = hotspot_x, .hotspot_y = hotspot_y};
	return true;
}

void cursor_image_free(struct cursor_image *image)
{
	free(image->pixels);
	image->pixels = NULL;
}

void cursor_state_set_image(struct cursor_state *state, struct cursor_image *image)
{
	cursor_image_free(&state->pending);
	state->pending = *image;
	image->pixels = NULL;
}

void cursor_state_set_position(struct cursor_state *state, bool inside, int32_t x, int32_t y)
{
	state->inside = inside;
	state->x = x;
	state->y = y;
}

void cursor_state_reset(struct cursor_state *state)
{
	cursor_image_free(&state->pending);
	state->inside = false;
	state->forget = true;
}

void cursor_state_take(struct cursor_state *state, struct cursor_state *out)
{
	*out = *state;
	state->pending.pixels = NULL;
	state->forget = false;
}

void cursor_state_finish(struct cursor_state *state)
{
	cursor_image_free(&state->pending);
}

/* A cursor changes seldom, so a new texture for each new image. */
bool cursor_overlay_update(struct cursor_overlay *cursor, struct cursor_state *taken)
{
	if (taken->forget)
		cursor->has_image = false;
	const struct cursor_image *image = &taken->pending;
	if (!image->pixels)
		return false;
	gs_texture_destroy(cursor->texture);
	const uint8_t *data = image->pixels;
	cursor->texture = gs_texture_create(image->width, image->height, image->format, 1, &data, 0);
	cursor->width = image->width;
	cursor->height = image->height;
	cursor->hotspot_x = image->hotspot_x;
	cursor->hotspot_y = image->hotspot_y;
	cursor->has_image = cursor->texture != NULL;
	cursor_image_free(&taken->pending);
	return true;
}

static float max_f(float a, float b)
{
	return a > b ? a : b;
}

static float min_f(float a, float b)
{
	return a < b ? a : b;
}

bool cursor_overlay_draw(struct cursor_overlay *cursor, const struct cursor_state *taken,
		const struct frame_geometry *geometry)
{
	if (!taken->shown || !taken->inside || !cursor->has_image)
		return false;
	/* The image's rectangle in buffer pixels, clipped to the part of the buffer the source shows:
	 * the cursor never spills over the source's edges. */
	const float left = (float)(taken->x - cursor->hotspot_x), top = (float)(taken->y - cursor->hotspot_y);
	const float x0 = max_f(left, geometry->bx), y0 = max_f(top, geometry->by);
	const float x1 = min_f(left + (float)cursor->width, geometry->bx + geometry->bw);
	const float y1 = min_f(top + (float)cursor->height, geometry->by + geometry->bh);
	if (x1 <= x0 || y1 <= y0)
		return false;

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
	return true;
}

void cursor_overlay_free(struct cursor_overlay *cursor)
{
	gs_texture_destroy(cursor->texture);
	cursor->texture = NULL;
	cursor->has_image = false;
}
