"""``python -m zhipu_magic.server``: run the local GLM-compatible server until Ctrl+C."""

import sys

from .cli import main

sys.exit(main())
