"""``python -m api.cli``: the ``shanlian`` command."""

import sys

from api.cli import main

sys.exit(main())
