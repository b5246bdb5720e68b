"""Development tools: the traffic simulator (`devkit.simulate`) and the benchmarks (`devkit.bench`).

They serve the tests, the committed sample (`data/sample/generate.py`) and `make bench`. The product
(`pipelines/`, `schemas/`, `dashboards/`) never imports them, except the CLI's `simulate` command, inside its
body, when it runs: `tests/test_devkit_seam.py` holds that line. devkit may import the product.
"""
