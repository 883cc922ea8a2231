"""The source-selection study behind ``benchmarks/bench_selection.py``:
its protocol, its parts (runs of the demo's benchmark), their analysis and
the report."""
