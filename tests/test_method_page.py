"""The statements the method page makes about soft dice hold for the values they name (mtlsed's dice)."""

from pathlib import Path

import torch

from mtlsed.objectives.losses import pairwise_dice

METHOD = (Path(__file__).resolve().parents[1] / "book" / "method.md").read_text()


def _dice(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> float:
    masks = torch.stack([a, b])[None]  # (1, 2, T, F)
    return float(pairwise_dice(masks, eps)[0, 0, 1])


def test_dice_is_zero_for_disjoint_masks_and_one_for_identical_binary_ones():
    assert "Dice is 0 for disjoint masks. For binary masks it is 1 for identical ones" in METHOD
    a = torch.zeros(20, 8)
    a[:10] = 1.0
    assert _dice(a, 1 - a) == 0.0
    assert abs(_dice(a, a) - 1.0) < 1e-9


def test_a_soft_masks_dice_with_itself_is_its_sum_of_squares_over_its_sum_and_halves_with_it():
    assert "a mask's dice with itself is $\\sum M^2 / \\sum M$" in METHOD
    assert "halving a mask halves its dice with itself" in METHOD
    m = torch.rand(40, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    by_hand = float((m**2).sum() / m.sum())
    assert abs(_dice(m, m) - by_hand) < 1e-6 and by_hand < 1.0
    assert abs(_dice(m / 2, m / 2) - by_hand / 2) < 1e-6


def test_the_silent_loss_grows_with_the_number_of_inactive_classes():
    """'with the paper's 41 classes ... it starts about five times larger than with ten': at the start every
    mask is about the same level, and two classes are active in each clip of both sets."""
    assert "it starts about five times\nlarger than with ten" in METHOD
    from mtlsed.objectives.losses import silent_loss

    def start(k: int) -> float:
        masks = torch.full((1, k, 50, 8), 0.5)
        inactive = torch.ones(1, k, dtype=torch.bool)
        inactive[0, :2] = False
        return float(silent_loss(masks, inactive))

    assert abs(start(41) / start(10) - 39 / 8) < 1e-6  # 4.9
