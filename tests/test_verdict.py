"""The book's bottom line is written from the paired results, so two result sets give two verdicts."""

from mtlsed.experiments.comparison import paired_difference
from mtlsed.experiments.paper import paper_row
from mtlsed.experiments.registry import table_rows
from mtlsed.experiments.verdict import agreement, paper_direction, verdict_markdown

ROWS = {r.key: r for r in table_rows(1)}
BCE, MTL = paper_row(ROWS["ddc_fap"]), paper_row(ROWS["segment_silent-label"])
SEEDS = range(5)


def _runs(shift: dict[str, float]) -> tuple[dict, dict]:
    """BCE and MTL metrics per seed: MTL is BCE moved by ``shift`` plus a little seed noise."""
    noise = [0.004, -0.003, 0.002, -0.001, 0.0]
    base = {s: {"at_map": 0.6 + s / 100, "sed_map": 0.4, "er": 1.2, "d": 0.8, "i": 0.4} for s in SEEDS}
    other = {s: {m: v + shift.get(m, 0.0) + noise[s] for m, v in base[s].items()} for s in SEEDS}
    return base, other


def _compare(shift):
    base, other = _runs(shift)
    return [paired_difference(base, other, m) for m in ("at_map", "sed_map", "er", "d", "i")]


def test_the_papers_directions_from_its_table():
    # the paper's Table 1, MTL against BCE: 0.697 / 0.662, 0.419 / 0.374, 1.543 / 1.741, 0.931 / 0.929,
    # 0.612 / 0.811 (AT-mAP, SED-mAP, ER, D, I)
    assert [paper_direction(BCE, MTL, m) for m in ("at_map", "sed_map", "er", "d", "i")] == [
        "better",
        "better",
        "better",
        "none",  # +0.002: below the tie the verdict allows
        "better",
    ]


def test_agreement_reads_the_interval_against_the_paper():
    assert agreement({"verdict": "better"}, "better") == "as in the paper"
    assert agreement({"verdict": "worse"}, "better") == "against the paper"
    assert agreement({"verdict": "better"}, "none") == "against the paper"
    assert agreement({"verdict": "no detectable difference"}, "better") == "no detectable difference"
    assert agreement({"verdict": "not comparable (1 seed(s) with the metric in both rows)"}, "x") == (
        "not comparable"
    )


def test_two_result_sets_give_two_verdicts():
    helps = _compare({"at_map": 0.05, "er": -0.1, "i": -0.1, "d": 0.03})  # SED-mAP unchanged
    hurts = _compare({"at_map": -0.05, "sed_map": -0.05, "er": 0.1, "i": 0.1})
    one = verdict_markdown({"k": ("the paper's row", helps)}, BCE, MTL, "On data A:")
    two = verdict_markdown({"k": ("the paper's row", hurts)}, BCE, MTL, "On data B:")
    assert one != two
    assert "as in the paper: AT-mAP +0.050 [" in one and "ER -0.100 [" in one and "I -0.100 [" in one
    assert "against the paper: D +0.030 [" in one and "no detectable difference: SED-mAP" in one
    assert (
        "against the paper: AT-mAP -0.050 [" in two
        and "SED-mAP -0.050" in two
        and "as in the paper" not in two
    )
    assert "(5 seeds, MTL − BCE, 95% interval)" in one
    assert "The paper reports, for the same change on its data: AT-mAP better" in one


def test_a_row_with_one_seed_is_said_not_compared():
    base, other = _runs({"at_map": 0.05})
    single = [paired_difference({0: base[0]}, {0: other[0]}, m) for m in ("at_map", "sed_map")]
    text = verdict_markdown({"k": ("the paper's row", single)}, BCE, MTL, "")
    assert "**the paper's row**: not compared (trained with 1 seed(s) here" in text
    assert "No row was trained with enough seeds here to say more." in text


def test_the_results_page_sets_a_row_beside_the_papers_direction():
    from mtlsed.experiments.report import _paper_pair
    from mtlsed.experiments.verdict import markdown_beside_the_paper

    helps = _compare({"at_map": 0.05, "er": -0.1, "i": -0.1, "d": 0.03})
    table = markdown_beside_the_paper(helps, *_paper_pair(1, "segment_silent-label"))
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[-2:] for line in table.splitlines()[2:7]}
    # the paper (tables.csv): AT-mAP 0.662 -> 0.697 better, ER 1.741 -> 1.543 better, D 0.929 -> 0.931
    # unchanged, I 0.811 -> 0.612 better, SED-mAP 0.374 -> 0.419 better
    assert rows["AT-mAP"] == ["better", "yes |"]
    assert rows["ER"] == ["better", "yes |"] and rows["I"] == ["better", "yes |"]
    assert rows["D"] == ["unchanged", "**no** |"]  # we see D worse; the paper saw no change
    assert rows["SED-mAP"] == ["better", "– |"]  # our interval holds 0: no direction to compare
    assert _paper_pair(1, "segment-top2") is None  # a row the paper's direction is not set beside


def test_a_profile_without_table_1_states_no_bottom_line(tmp_path):
    from dataclasses import replace

    from mtlsed.config.profiles import load_profile
    from mtlsed.experiments.report import bottom_line

    ci = load_profile("ci")
    only_two = replace(ci, params={**ci.params, "tables": [2]})
    said = bottom_line(only_two, tmp_path)  # no grid is read: nothing under tmp_path
    assert "runs no Table 1 (its tables: [2])" in said and "states no bottom line" in said
