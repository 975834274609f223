"""``python -m node``: the same as the ``fednode`` command."""

import sys

from node.cli import main

sys.exit(main())
