/* The effect captured frames are drawn with: OBS's default draw, and variants that give a format
 * without alpha an opaque alpha (its X bits are anything, and OBS's output divides by alpha) and that
 * swap red and blue back (pixel_format.swap_red_blue). */
#pragma once

#include <stdbool.h>

#include <graphics/graphics.h>

/* Render thread (graphics context entered). NULL, and the reason logged, if OBS cannot build it. */
gs_effect_t *frame_effect_create(void);
const char *frame_effect_technique(bool swap_red_blue, bool opaque);
