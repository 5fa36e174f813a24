"""``python -m teiten`` runs the CLI."""

import sys

from teiten.cli.main import main

sys.exit(main())
