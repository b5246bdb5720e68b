"""`python -m devkit.bench`: see `devkit.bench.cli`."""

import sys

from devkit.bench.cli import main

if __name__ == "__main__":  # a spawned step process imports this module again: it must not run the benchmark
    sys.exit(main())
