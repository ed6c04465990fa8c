/* The OBS host's measuring points (probes.c). */
#pragma once

#include <obs.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Record the output pixel at (x, y) of every composed frame from now on (x < 0: stop). */
void probes_watch(long x, long y);
/* From the raw-video callback: one composed frame. */
void probes_frame(const struct video_data *frame, uint32_t width, uint32_t height);
/* Write the recorded pixels ("FRAME_NS OUTPUT_NS BGRA" a line) to path and start a new record. */
bool probes_write_marks(const char *path);
/* Render times per source type, graphics-context time outside the render thread, texture counts. */
size_t probes_json(char *out, size_t size);
