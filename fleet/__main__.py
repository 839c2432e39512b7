"""`python -m fleet`: the same as the `fleet` console script."""

import sys

from fleet.cli import main

sys.exit(main())
