"""Interop tests against real, independent fediverse software running on 127.0.0.1."""
