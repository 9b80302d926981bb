"""Developer tools: timing and memory probes, SegFormer baselines, the benchmark table, profiling, deployment
export and model cards.

The library never imports this package (a test checks it); the commands in :mod:`edaformer.cli` do.
"""
