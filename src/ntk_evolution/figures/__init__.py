"""Seaborn figures, one module per figure, each with ``plot(..., path)``.

One module per figure lets the workflow make each figure rule depend on the code of its own
figure only, so editing one figure reruns only that figure.
"""
