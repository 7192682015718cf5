"""roadcam's tools: benchmarks, evaluations and model training (``python -m roadcam.tools.X``).

Installed with the package so they run from anywhere; training needs the ``[train]`` extra
(TensorFlow), which nothing outside ``roadcam.tools`` ever imports.
"""
