"""Security tests in a real browser (chromium, as tests/browser drives it)."""
