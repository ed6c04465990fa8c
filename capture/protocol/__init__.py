"""The capture protocols' objects as explicit state machines (no buffers, no policy)."""
