"""How many clips each split gets: the one meaning of ``--val-fraction`` and ``--test-fraction``.

Every command that draws a split (``synth``, ``mix-dcase2018``, ``import``, ``import-desed``) sizes it
here: ``test_fraction`` of all the clips are test clips, and ``val_fraction`` of the clips that are *not*
test clips are validation clips; the rest train. A set whose test split is given (``import --test``,
``import-desed``) has no test clips to draw, so there ``val_fraction`` is a share of all the clips drawn.
"""

from __future__ import annotations

# The default share of the non-test clips that validate, for the commands that mix a set (``synth``,
# ``mix-dcase2018``, the embedded sets): 1/8 of the 80 % that are not test clips is 10 % of all, the
# split these sets have always had.
MIXED_VAL_FRACTION = 0.125
# The default for the importers (``import``, ``import-desed``).
IMPORT_VAL_FRACTION = 0.1
TEST_FRACTION = 0.2  # the default share of all clips held out for test


def split_sizes(
    n: int, val_fraction: float, test_fraction: float, at_least_one: bool = False
) -> dict[str, int]:
    """``{"train", "val", "test": clips}`` of ``n``: ``test_fraction`` of all, ``val_fraction`` of the rest.

    ``at_least_one``: a split with a fraction above 0 gets at least one clip (pools of source files, where
    every class must be in every split).
    """
    n_test = int(round(n * test_fraction))
    if at_least_one and test_fraction > 0:
        n_test = max(1, n_test)
    n_val = int(round((n - n_test) * val_fraction))
    if at_least_one and val_fraction > 0:
        n_val = max(1, n_val)
    return {"train": n - n_test - n_val, "val": n_val, "test": n_test}
