"""The SQL models of `sql/`, in four rooms:

* `project`: reading the model files (headers, the tables each SQL reads) and ordering them (the DAG);
* `parameters`: the knobs of the metric definitions, set as DuckDB variables;
* `database`: opening the warehouse database (local, or a local copy of an object store's) and publishing it;
* `engine`: building models and seeds in it, incrementally where a model says so, with its state tables;
* `docs`: docs/metrics.md, generated from the headers.
"""
