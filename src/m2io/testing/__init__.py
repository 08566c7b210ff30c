"""Deterministic fakes for tests: never used as user-facing defaults."""
