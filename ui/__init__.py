"""Streamlit-only helpers for the pages (language, cached models, progress adapter).

The core (``rnnviz``) never imports Streamlit; this package is the UI side of that line.
"""
