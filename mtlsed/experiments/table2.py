"""Table 2 of the paper: DDC-FAP against other weakly supervised detectors (attention pooling, TALNet,
VGG-GWRP), each with BCE alone, and MTL-DDC-FAP (label-guided segment + silent at the paper's weights)."""

from __future__ import annotations

from mtlsed.core.vocabulary import MODEL_NAMES
from mtlsed.experiments import table1
from mtlsed.experiments.rows import BCE_ONLY, DDC_FAP, Row, mtl_overrides

NUMBER = 2
RECIPE = "desed-like"  # the embedded set it is reproduced on without --data
EXTRA_ROWS: set[str] = set()


def rows() -> list[Row]:
    out = [
        Row(2, name, MODEL_NAMES[name], "bce", overrides={"model.name": name, **BCE_ONLY})
        for name in ("attention", "talnet", "vgg_gwrp", "ddc_fap")
    ]
    out.append(
        Row(
            2,
            "mtl_ddc_fap",
            f"MTL-{DDC_FAP}",
            "segment+silent",
            "label-guided",
            overrides={"model.name": "ddc_fap", **mtl_overrides("segment+silent", "label-guided")},
        )
    )
    return out


seeds = table1.seeds


def plan_note(profile, rows: list[str] | None) -> str:
    return ""


def train(ctx, selected: list[Row]):
    """Every row over its seeds, as Table 1's rows train without a weight grid."""
    return table1.train_rows(ctx, selected, [])


def write_extras(ctx, runs) -> None:
    pass
