"""One module per page group; each exposes `router`."""
