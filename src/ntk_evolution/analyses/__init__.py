"""Judging results: accuracy intervals, robustness tables, the paper's findings and their
comparison across scenarios."""
