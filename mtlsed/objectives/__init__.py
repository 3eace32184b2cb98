"""Objectives: the paper's losses (Eq. (8)) and the other mask constraints."""
