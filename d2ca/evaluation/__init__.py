"""Measuring models: per-AU F1 on a manifest, the paper's tables beside ours, FID, figures.

``f1`` (F1 per AU, a model's predictions and F1 on a manifest), ``tables`` (per-AU tables laid
out like the paper's, with its published rows), ``fid`` (Fréchet distance of image sets),
``plots`` (t-SNE, swap grids, a run's curves). Imports the core, ``models`` and ``data``.
"""

from d2ca.evaluation.f1 import evaluate, f1_per_au, predict

__all__ = ["evaluate", "f1_per_au", "predict"]
