"""`python -m bench`: the performance figures side by side (see bench/__main__.py, docs/benchmarks.md)."""
