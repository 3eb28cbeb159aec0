"""emberfit.tabular (facade to be filled by its issue)."""
