"""Browser tests of the built site (a package, so its conftest never shadows tests/conftest.py)."""
