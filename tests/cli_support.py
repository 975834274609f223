"""Running the real ``fednode`` command (``python -m node``) in a temporary folder, for the tests of its
commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_fednode(folder: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDNODE_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "node", *args], cwd=folder, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)
