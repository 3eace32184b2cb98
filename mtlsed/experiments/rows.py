"""A row of a table (a model and a loss setting) and the loss settings the paper's rows are made of."""

from __future__ import annotations

from dataclasses import dataclass, field

from mtlsed.core.vocabulary import MODEL_NAMES

BCE_ONLY = {"loss.segment_weight": 0.0, "loss.silent_weight": 0.0}
BASELINE = "ddc_fap"  # the BCE-only DDC-FAP row of every table: the one the others are compared with
DDC_FAP = MODEL_NAMES["ddc_fap"]  # the paper's model, as its tables name it


@dataclass
class Row:
    """One row of a table: a model and a loss setting."""

    table: int
    key: str  # folder name
    method: str  # as in the paper's table
    loss: str  # bce, segment, segment+silent
    selection: str = ""  # label-guided, self-supervised
    topk: int | None = None
    overrides: dict = field(default_factory=dict)
    # trained with the profile's ``seeds`` (the others with its ``seeds_other_rows``): Table 1's BCE row
    # and its MTL row with the weights chosen on validation (the paper's 0.2 / 0.2 without a weight grid)
    paired: bool = False
    note: str = ""  # said after the row's name (e.g. the weights chosen on validation)

    @property
    def label(self) -> str:
        """The row's name in every table and heading (:func:`row_name`)."""
        return row_name(self.method, self.loss, self.selection, self.topk, self.note)


def row_name(
    method: str, loss: str, selection: str = "", topk: int | str | None = None, note: str = ""
) -> str:
    """How a row is named: ``DDC-FAP`` for a BCE row, ``DDC-FAP: segment+silent, label-guided`` (with
    ``top3`` after a self-supervised selection) for the others, then its note in parentheses."""
    sel = selection + (f" top{topk}" if topk else "")
    name = method if loss == "bce" else f"{method}: " + ", ".join(p for p in (loss, sel) if p)
    return name + (f" ({note})" if note else "")


def mtl_overrides(loss: str, selection: str, topk: int | None = None) -> dict:
    """The loss settings of a paper row: segment (+ silent) at the paper's 0.2, its active-set rule."""
    return {
        "loss.segment_weight": 0.2,
        "loss.silent_weight": 0.2 if loss == "segment+silent" else 0.0,
        "loss.selection": "label" if selection == "label-guided" else "topk",
        **({"loss.topk": topk} if topk else {}),
    }
