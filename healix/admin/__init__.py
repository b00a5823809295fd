"""The admin site, its per-organization scoping, and the operations view."""
