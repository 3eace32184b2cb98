"""The page 'From this book to the paper's scale' states numbers the code computes: they are checked here,
so a change to a profile or to the model shows on the page or fails."""

import re
from pathlib import Path

from mtlsed.config.profiles import load_profile
from mtlsed.experiments.paper import paper_row
from mtlsed.experiments.registry import table_rows
from mtlsed.models import build_model, model_summary

PAGE = (Path(__file__).resolve().parents[1] / "book" / "scale.md").read_text()


def _gmac(profile: str, classes: int = 10) -> float:
    cfg = load_profile(profile).config()
    return (
        model_summary(build_model(cfg.model, classes, cfg.features.n_mels), 311, cfg.features.n_mels)["macs"]
        / 1e9
    )


def test_the_cost_figures_are_the_models():
    paper, cpu = _gmac("paper"), _gmac("cpu")
    assert f"is\n{paper:.2f} GMAC" in PAGE or f"is {paper:.2f} GMAC" in PAGE.replace("\n", " ")
    assert f"{_gmac('paper', 41):.2f} GMAC with the\npaper's 41 classes" in PAGE
    assert f"model is {cpu:.3f} GMAC per clip, {paper / cpu:.0f} times less" in PAGE.replace("\n", " ")
    cfg = load_profile("paper").config()
    clip_steps = cfg.train.iterations * cfg.train.batch_size
    flop = 3 * 2 * paper * 1e9  # forward + backward (about twice the forward) per clip, 2 FLOP per MAC
    text = PAGE.replace("\n", " ")
    assert (
        f"about {flop / 1e9:.1f} GFLOP per clip" in text
        and f"{clip_steps:,} clip-steps".replace(",", " ") in text
    )
    assert f"about {flop * clip_steps / 1e15:.1f} PFLOP" in text
    low, high = (flop * clip_steps / rate / 60 for rate in (8e12, 2e12))
    assert f"{low:.0f} to {high:.0f} minutes" in text
    # Table 1 under `paper`: every row over every seed (no weight grid in that profile)
    from mtlsed.experiments import table1

    prof = load_profile("paper")
    paired, other = table1.seeds(prof)
    assert not table1.weight_grid(prof, None)
    runs = sum(len(paired) if r.paired or r.key == table1.FIXED else len(other) for r in table1.rows())
    assert f"the {runs} runs of Table 1" in text
    assert f"take {low * runs / 60:.1f} to {high * runs / 60:.1f} hours" in text


def test_the_settings_are_the_profiles():
    text = PAGE.replace("\n", " ")
    paper, cpu = load_profile("paper").config(), load_profile("cpu").config()
    iterations = f"{paper.train.iterations:,}".replace(",", " ")
    assert f"{paper.train.batch_size} clips, {iterations} iterations" in text
    assert f"{cpu.train.batch_size} clips, {cpu.train.iterations} iterations" in text
    assert f"{paper.features.sample_rate // 1000} kHz (*our choice*" in text
    assert "-".join(map(str, paper.model.channels)) + " channels" in text
    assert f"{load_profile('cpu').params['n_clips']} clips of the embedded" in text


def test_the_expected_numbers_are_the_papers():
    rows = {r.key: r for r in table_rows(1)}
    bce, mtl = paper_row(rows["ddc_fap"]), paper_row(rows["segment_silent-label"])
    text = PAGE.replace("\n", " ")
    assert f"AT-mAP {bce['at_map']:.3f}, SED-mAP {bce['sed_map']:.3f}, ER {bce['er']:.3f}" in text
    assert f"AT-mAP {mtl['at_map']:.3f}, SED-mAP {mtl['sed_map']:.3f}, ER {mtl['er']:.3f}" in text
    ups = re.search(r"both mAPs up by\s+([\d.]+) and ([\d.]+)", PAGE)
    assert float(ups.group(1)) == round(mtl["at_map"] - bce["at_map"], 3)
    assert float(ups.group(2)) == round(mtl["sed_map"] - bce["sed_map"], 3)
