"""Fednode: a federated discussion forum node that speaks ActivityPub."""

__version__ = "0.1.0"
