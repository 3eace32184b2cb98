"""Experiments: the grids of Tables 1-3, paired comparison, tables and the results page."""
