"""Telling people: apprise targets, digest rendering, sending, plots."""
