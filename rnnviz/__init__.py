"""RNN Lab core: cells, tracing, models, training and the teaching computations.

Nothing in this package imports Streamlit: every number a page shows is computed here and
unit-tested here (tests/test_core_has_no_streamlit.py enforces it).
"""

from rnnviz.errors import RnnVizError

__all__ = ["RnnVizError"]
__version__ = "0.1.0"
