"""emberfit.text (facade to be filled by its issue)."""
