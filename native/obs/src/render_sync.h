/* Explicit sync on OBS's render thread (native/obs/src/render_sync.c). Acquire and release must be
 * called inside OBS's graphics context; the first call decides whether explicit sync can be used here
 * (logged once), and any failure falls back to implicit sync for the rest of the process (logged
 * once, with the reason). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum render_sync_result {
	RENDER_SYNC_FAILED = -1,   /* explicit sync is unavailable: implicit sync (see render_sync_status) */
	RENDER_SYNC_SIGNALLED = 0, /* acquire: nothing was pending, no GPU wait queued */
	RENDER_SYNC_QUEUED = 1,    /* acquire: the GPU waits for a pending write; release: fence attached */
};

/* 0: not decided yet, 1: explicit sync in use, 2: unavailable. `why` gets the mechanism or the
 * reason. Any thread. */
int render_sync_status(char *why, size_t size);

/* Acquire: make the GPU wait, before the next draw, for the writes still pending on the buffer's
 * planes (the compositor's copy). Never waits on the CPU. */
enum render_sync_result render_sync_acquire(const int *fds, uint32_t n_planes);

/* Release: attach a fence that signals once every GPU command issued so far (OBS's reads of the
 * buffer) is done, as a read fence on the buffer's planes, so that the compositor's next write
 * waits for it. Attached even when it has signalled already (one ioctl): the path stays the same on
 * every driver. Flushes OBS's command stream, never waits on the CPU. */
enum render_sync_result render_sync_release(const int *fds, uint32_t n_planes);

/* The release's last step: attach a sync_file to the buffer's planes as a read fence (the fd stays
 * the caller's). Returns 0 or an errno. Any thread. */
int render_sync_attach_read_fence(const int *fds, uint32_t n_planes, int fence);
