"""RNN Lab core package, split by role: ``core`` (the classifier core: cells, tracing, models,
data, training, checkpoints, prediction), ``lessons`` (the teaching computations), ``jobs``
(the app's background jobs) and ``plots`` (figures and tables).

Nothing in this package imports Streamlit: every number a page shows is computed here and
unit-tested here (tests/test_import_rules.py enforces the layering).
"""

from rnnviz.errors import RnnVizError

__all__ = ["RnnVizError"]
__version__ = "0.1.0"
