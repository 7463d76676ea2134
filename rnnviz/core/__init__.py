"""The classifier core: its settings (config.py), cells and tracing, tokens, models, data,
training, checkpoints, evaluation and prediction.

It imports none of the lessons, jobs or plots (tests/test_import_rules.py).
"""
