"""Developer tools: benchmarking against SegFormer, profiling and deployment export.

The library never imports this package (a test checks it); the commands in :mod:`edaformer.cli` do.
"""
