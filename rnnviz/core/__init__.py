"""The classifier core: cells and tracing, tokens, models, data, training, checkpoints, prediction.

It imports none of the lessons, jobs or plots (tests/test_import_rules.py).
"""
