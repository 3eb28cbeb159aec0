"""emberfit.collab (facade to be filled by its issue)."""
