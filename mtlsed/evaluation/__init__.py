"""Evaluation: inference, post-processing, metrics and the evaluate command's work."""
