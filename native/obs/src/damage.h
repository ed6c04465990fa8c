/* A frame's damage: the rectangles that changed since the frame before it (wlcap_frame_desc). An
 * empty list means "all of it": the first frame, a protocol that reports none, or too much to list. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source_private.h" /* obs_source.h has no include guard: cffi reads it too */

/* `into` also covers what `from` covered: a frame that replaced `from` before it was shown carries
 * both changes. Past WLCAP_MAX_DAMAGE rectangles, their bounding box. */
void damage_merge(struct wlcap_frame_desc *into, const struct wlcap_frame_desc *from);

/* The damage clipped to the frame, for an upload; false when the whole frame should go: no list, a
 * rectangle that is not a sane part of it (a frame is never trusted to stay inside itself), or
 * rectangles covering more than half of it. */
bool damage_clipped(const struct wlcap_frame_desc *frame, struct wlcap_rect *out, uint32_t *n_out);
