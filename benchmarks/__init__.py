"""Benchmark of stock Taxometer against taxometer-kd on real genomes (``python -m benchmarks.run``).

- :mod:`benchmarks.run`: the command; prepares the data, runs ``vamb taxometer`` for every
  labeller x method x seed (resumable), scores the results and writes the report.
- :mod:`benchmarks.metrics`: scoring on top of :mod:`taxometer_kd.evaluate` (subsets by
  reference status and contig length, operating points, PR curves, label transitions,
  aggregation over seeds).
- :mod:`benchmarks.report`: tables, figures and ``report.md``.
"""
