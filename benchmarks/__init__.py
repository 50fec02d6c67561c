"""Benchmark of stock Taxometer against taxometer-kd on real genomes (``python -m benchmarks.run``).

- :mod:`benchmarks.run`: the command (main), its options in :mod:`benchmarks.run_args`;
- :mod:`benchmarks.plan`: the data set (:mod:`benchmarks.plan_data`), the methods and the runs
  (:mod:`benchmarks.plan_runs`) and their commands;
- :mod:`benchmarks.execute`: running ``vamb taxometer`` for every labeller x method x seed
  (records, resuming, not-applicable runs, stage times from the logs);
- :mod:`benchmarks.collect`: scoring the runs into results (JSON, CSV);
- :mod:`benchmarks.metrics`: scoring on top of :mod:`taxometer_kd.evaluate` (subsets by
  reference status and contig length, operating points, PR curves, label transitions,
  aggregation over seeds).
- :mod:`benchmarks.tables`, :mod:`benchmarks.figures`: the report's tables and figures;
- :mod:`benchmarks.report`: ``report.md`` (and ``python -m benchmarks.report DIR``).
"""
