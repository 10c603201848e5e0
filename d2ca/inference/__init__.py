"""Inference behind the :class:`~d2ca.D2CA` facade: ``pipeline`` (the facade: detect, swap,
interpolate, encode), ``results`` (its dataclasses and tables), ``corpus`` (one table per
file over many files, resumable, sharded). Imports the core, ``models``, ``face`` and ``data``.
"""
