"""The code fingerprint moves with the numbers and with nothing else (#19): what it covers, its normal form,
and edits that must and must not send the runs to a new folder."""

import shutil
from pathlib import Path

import pytest

from mtlsed.core.code import module_fingerprint, normal_form
from mtlsed.runs.identity import EVALUATION, NOT_NUMERIC, NUMERIC, code_fingerprint, is_numeric

PACKAGE = Path(__file__).resolve().parents[1] / "mtlsed"


def _modules() -> list[str]:
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if "_book" not in p.parts)


def test_every_module_is_classified_once():
    """A new module must be declared numeric or not: the fingerprint never ignores code silently."""
    for module in _modules():
        numeric, other = is_numeric(module), module in NOT_NUMERIC
        assert numeric != other, f"{module}: put it in exactly one of identity.NUMERIC and NOT_NUMERIC"
    stale = {m for m in NUMERIC | EVALUATION if not m.endswith("*") and not (PACKAGE / m).is_file()}
    assert not stale, f"NUMERIC names modules that do not exist: {stale}"


def test_normal_form_ignores_docstrings_comments_and_layout_only():
    a = 'def f(x):\n    """Doc."""\n    return 2 * x  # twice\n'
    b = "def f(x):\n\n    return 2 * x\n"
    c = 'def f(x):\n    """Doc."""\n    return 3 * x\n'
    d = 'def f(x):\n    """Doc."""\n    return "2 * x"\n'  # a string that is not a docstring counts
    assert normal_form(a) == normal_form(b)
    assert normal_form(a) != normal_form(c) and normal_form(a) != normal_form(d)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("pkg")
    pkg = _copy(root, "base")
    return root, code_fingerprint(pkg), code_fingerprint(pkg, part="evaluation")


def _copy(root: Path, name: str) -> Path:
    target = root / name / "mtlsed"
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__", "_book"))
    return target


def _edit(pkg: Path, module: str, old: str, new: str) -> None:
    path = pkg / module
    text = path.read_text()
    assert old in text, f"{module} no longer holds {old!r}: update this test"
    path.write_text(text.replace(old, new, 1))


UNCHANGED = [
    (
        "docstring of a loss",
        "objectives/losses.py",
        '"""The losses of the paper',
        '"""The losses (edited) of the paper',
    ),
    (
        "comment in training",
        "training/train.py",
        "def seed_everything(",
        "# a new comment\ndef seed_everything(",
    ),
    ("blank lines in the mAPs", "evaluation/ranking.py", "\n\n\ndef at_map(", "\n\n\n\n\ndef at_map("),
    ("table formatting", "experiments/tables.py", '±\\u00a0{std:.3f}"', '±\\u00a0{std:.2f}"'),
    ("plots", "book/plots.py", "def ", "def _unused():\n    return 1\n\n\ndef "),
    ("notebook helpers", "book/notebook.py", '"display.max_colwidth", 120', '"display.max_colwidth", 80'),
    ("the command line", "cli/commands.py", 'help="number of clips"', 'help="how many clips"'),
    ("the results page", "experiments/report.py", "# Results of this build", "# Results"),
    ("the book build", "book/build.py", "staging the book sources", "copying the book sources"),
    ("what a run prints", "runs/runinfo.py", 'f"elapsed {elapsed', 'f"took {elapsed'),
]
CHANGED = [
    ("a loss", "objectives/losses.py", "return 2 * inter /", "return 3 * inter /"),
    ("the model", "models/ddc_fap.py", "torch.sigmoid(", "torch.tanh("),
    (
        "the features",
        "features/logmel.py",
        "power = spec.real.square() + spec.imag.square()",
        "power = spec.abs()",
    ),
    ("the validation mAP", "evaluation/ranking.py", "[0]\n\n\ndef sed_map", "[1]\n\n\ndef sed_map"),
    ("a config default", "config/settings.py", "hop_ms: float = 32.0", "hop_ms: float = 16.0"),
    ("the frame grid", "features/labels.py", "self.hop_s / 2", "self.hop_s / 3"),
]
# edits that change what a finished run scores, not what it trains: the run is scored again, not retrained
EVALUATION_ONLY = [
    (
        "post-processing",
        "evaluation/postprocess.py",
        '"frame_threshold": [0.3, 0.5, 0.7]',
        '"frame_threshold": [1]',
    ),
    ("an event metric", "evaluation/metrics.py", "t_collar: float = 0.2,", "t_collar: float = 0.25,"),
]


@pytest.mark.parametrize(("what", "module", "old", "new"), UNCHANGED, ids=[c[0] for c in UNCHANGED])
def test_edits_that_cannot_change_a_number_keep_the_fingerprint(base, what, module, old, new):
    root, training, evaluation = base
    pkg = _copy(root, what.replace(" ", "-"))
    _edit(pkg, module, old, new)
    assert code_fingerprint(pkg) == training, what
    assert code_fingerprint(pkg, part="evaluation") == evaluation, what


@pytest.mark.parametrize(("what", "module", "old", "new"), CHANGED, ids=[c[0] for c in CHANGED])
def test_edits_that_can_change_the_weights_move_the_training_fingerprint(base, what, module, old, new):
    root, training, evaluation = base
    pkg = _copy(root, what.replace(" ", "-"))
    _edit(pkg, module, old, new)
    assert code_fingerprint(pkg) != training, what
    assert code_fingerprint(pkg, part="evaluation") == evaluation, what


@pytest.mark.parametrize(
    ("what", "module", "old", "new"), EVALUATION_ONLY, ids=[c[0] for c in EVALUATION_ONLY]
)
def test_edits_to_scoring_move_the_evaluation_fingerprint_only(base, what, module, old, new):
    """A fix to the metrics or the post-processing re-scores finished runs and trains none again."""
    root, training, evaluation = base
    pkg = _copy(root, what.replace(" ", "-"))
    _edit(pkg, module, old, new)
    assert code_fingerprint(pkg) == training, what
    assert code_fingerprint(pkg, part="evaluation") != evaluation, what


def test_the_feature_cache_key_follows_the_front_end_code_not_its_docstrings(tmp_path):
    pkg = _copy(tmp_path, "a")
    before = module_fingerprint("features/logmel.py", pkg)
    _edit(pkg, "features/logmel.py", '"""Log-mel front end', '"""The log-mel front end')
    assert module_fingerprint("features/logmel.py", pkg) == before
    _edit(
        pkg, "features/logmel.py", "torch.log(mel + self.cfg.log_eps)", "torch.log10(mel + self.cfg.log_eps)"
    )
    assert module_fingerprint("features/logmel.py", pkg) != before


def test_moving_a_module_keeps_the_fingerprint(base, tmp_path):
    """A module's identity is its normalised code, not its path: the losses moved into another numeric
    folder, every import of them rewritten, give the same fingerprint; the same move with a number
    changed does not."""
    root, before, _ = base

    def moved(name: str, edit=None) -> Path:
        pkg = _copy(tmp_path, name)
        (pkg / "objectives" / "losses.py").rename(pkg / "models" / "losses.py")
        for path in pkg.rglob("*.py"):
            text = path.read_text()
            if "mtlsed.objectives.losses" in text:
                path.write_text(text.replace("mtlsed.objectives.losses", "mtlsed.models.losses"))
        if edit:
            _edit(pkg, "models/losses.py", *edit)
        return pkg

    assert code_fingerprint(moved("moved")) == before
    assert code_fingerprint(moved("changed", ("return 2 * inter /", "return 3 * inter /"))) != before
