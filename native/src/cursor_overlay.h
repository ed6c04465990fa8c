/* The cursor OBS draws over the frame: its image (ext cursor session), where its hotspot is, and
 * whether the source shows it. Drawn in the frame's buffer pixels through the frame's own geometry,
 * so it follows the transform and the crop, and clipped to what the source shows.
 *
 * Not thread-safe by itself: obs_source.c calls all of it under the source's lock. The texture is
 * created and destroyed on the graphics thread (cursor_overlay_draw, cursor_overlay_free inside
 * obs_enter_graphics). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <obs-module.h>

#include "frame_geometry.h"

struct cursor_overlay {
	bool shown;           /* the source's "Show cursor" */
	bool inside;          /* over the captured area */
	int32_t x, y;         /* the hotspot, in the frame's buffer pixels */
	/* The newest image, waiting for the graphics thread (NULL once uploaded). */
	uint8_t *pending;     /* width * 4 bytes a row, premultiplied alpha */
	uint32_t pending_width, pending_height;
	enum gs_color_format pending_format;
	int32_t pending_hotspot_x, pending_hotspot_y;
	/* What is drawn: graphics thread. */
	bool has_image;       /* texture holds this capture's image (cleared by a reset) */
	gs_texture_t *texture;
	uint32_t width, height;
	int32_t hotspot_x, hotspot_y;
	uint64_t uploads, draws; /* counted for the statistics */
};

/* Copy a new image (rows of `stride` bytes); false if it cannot be kept (no memory, no format). */
bool cursor_overlay_set_image(struct cursor_overlay *cursor, const uint8_t *pixels, uint32_t width,
		uint32_t height, uint32_t stride, enum gs_color_format format, int32_t hotspot_x, int32_t hotspot_y);
void cursor_overlay_set_position(struct cursor_overlay *cursor, bool inside, int32_t x, int32_t y);
/* Forget the image and position (capture stopped); `shown` stays, it is a setting. */
void cursor_overlay_reset(struct cursor_overlay *cursor);
/* Draw over a frame drawn with `geometry` (graphics thread, inside the source's render). */
void cursor_overlay_draw(struct cursor_overlay *cursor, const struct frame_geometry *geometry);
/* Free the image and the texture (graphics context entered). */
void cursor_overlay_free(struct cursor_overlay *cursor);
