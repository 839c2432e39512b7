"""Fleet-scale benchmarks: `make bench`, or `.venv/bin/python -m benchmarks.run` (see README.md)."""
