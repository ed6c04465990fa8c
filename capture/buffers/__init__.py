"""Capture buffers: their layouts and formats, shared memory, DMA-BUF (and its fences), the pool, damage."""
