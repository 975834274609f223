"""What every peer the interop suite runs has in common: it listens on 127.0.0.1 at ``port``."""

from __future__ import annotations


class LoopbackAddress:
    """``base`` and ``host`` of a server on 127.0.0.1 at ``self.port`` (set by the subclass)."""

    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"
