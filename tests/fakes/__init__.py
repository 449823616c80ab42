"""Deterministic fakes shared by the tests (e.g. an OpenAI-compatible HTTP server)."""
