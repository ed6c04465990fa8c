"""Capture sessions: one adapter per protocol behind one interface, and the choice between them."""
