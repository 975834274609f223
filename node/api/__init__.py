"""The node's public API: the read API's JSON (threads, counts), tokens, feeds and webhooks (docs/api.md)."""
