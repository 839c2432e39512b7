"""`python -m fleet_cli`: the same as the `fleet` console script."""

import sys

from fleet_cli.main import main

sys.exit(main())
