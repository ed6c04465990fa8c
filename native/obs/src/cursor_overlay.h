/* The cursor OBS draws over the frame: its image (ext cursor session), where its hotspot is, and
 * whether the source shows it. Drawn in the frame's buffer pixels through the frame's own geometry,
 * so it follows the transform and the crop, and clipped to what the source shows.
 *
 * Two halves, so that the render thread never holds the source's lock while it makes a texture or
 * draws: `struct cursor_state` is what the capture side sets, under the source's lock; the render
 * thread takes a copy of it under that lock (cursor_state_take, which hands over the newest image) and
 * then works on its own `struct cursor_overlay` without the lock (graphics thread only; created and
 * destroyed inside the graphics context). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <obs-module.h>

#include "frame_geometry.h"

/* A copied cursor image: width * 4 bytes a row, premultiplied alpha. pixels NULL: none. */
struct cursor_image {
	uint8_t *pixels;
	uint32_t width, height;
	enum gs_color_format format;
	int32_t hotspot_x, hotspot_y;
};

/* Set by the capture side; guarded by the source's lock. */
struct cursor_state {
	bool shown;                 /* the source's "Show cursor" */
	bool inside;                /* over the captured area */
	int32_t x, y;               /* the hotspot, in the frame's buffer pixels */
	struct cursor_image pending; /* the newest image, until the render thread takes it */
	bool forget;                /* capture stopped: the render thread drops the image it holds */
};

/* What is drawn: the render thread's own. */
struct cursor_overlay {
	bool has_image;             /* texture holds this capture's image */
	gs_texture_t *texture;
	uint32_t width, height;
	int32_t hotspot_x, hotspot_y;
};

/* Copy an image (rows of `stride` bytes), with no lock held; false if it cannot be kept (no memory,
 * no format). The copy goes to cursor_state_set_image, or to cursor_image_free. */
bool cursor_image_copy(struct cursor_image *out, const uint8_t *pixels, uint32_t width, uint32_t height,
		uint32_t stride, enum gs_color_format format, int32_t hotspot_x, int32_t hotspot_y);
void cursor_image_free(struct cursor_image *image);

/* Caller holds the source's lock. set_image takes the copy over (the one it replaces is freed). */
void cursor_state_set_image(struct cursor_state *state, struct cursor_image *image);
void cursor_state_set_position(struct cursor_state *state, bool inside, int32_t x, int32_t y);
/* Forget the image and position (capture stopped); `shown` stays, it is a setting. */
void cursor_state_reset(struct cursor_state *state);
/* A copy for the render thread; the pending image (if any) becomes the copy's. */
void cursor_state_take(struct cursor_state *state, struct cursor_state *out);
/* Free the pending image (the source is destroyed). */
void cursor_state_finish(struct cursor_state *state);

/* Render thread, graphics context entered, no lock: apply a taken state (drop the image if told,
 * make the new image a texture and free it). Returns whether a texture was made. */
bool cursor_overlay_update(struct cursor_overlay *cursor, struct cursor_state *taken);
/* Draw over a frame drawn with `geometry`, where `taken` says; returns whether it drew. */
bool cursor_overlay_draw(struct cursor_overlay *cursor, const struct cursor_state *taken,
		const struct frame_geometry *geometry);
/* Free the texture (graphics context entered). */
void cursor_overlay_free(struct cursor_overlay *cursor);
