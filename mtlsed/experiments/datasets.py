"""The data step of every command and notebook: the user's data set, else the embedded set a table's recipe
mixes under a profile (Tables 1 and 3: the overlapped recipe, Table 2: the DESED-like one)."""

from __future__ import annotations

from pathlib import Path

from mtlsed.config.profiles import Profile
from mtlsed.core.errors import UserError
from mtlsed.experiments.registry import spec

EMBEDDED_SEED = 0  # the seed the embedded sets are mixed with (a profile's seeds are its runs')


def default_data_dir(profile: Profile, table: int, root: Path) -> Path:
    """Where the embedded set of a table's recipe (:func:`mtlsed.experiments.registry.spec`) is mixed."""
    recipe = spec(table).RECIPE
    sr = profile.config().features.sample_rate
    return root / f"{recipe}-{profile.params['n_clips']}clips-{sr}hz-seed{EMBEDDED_SEED}"


def ensure_data(profile: Profile, table: int, root: Path) -> Path:
    """Mix (or finish mixing) the embedded set a profile asks for."""
    from mtlsed.data.build import BuildSpec, build_dataset

    out = default_data_dir(profile, table, root)
    if not (out / "weak.tsv").is_file():
        build = BuildSpec(
            spec(table).RECIPE,
            profile.params["n_clips"],
            EMBEDDED_SEED,
            profile.config().features.sample_rate,
        )
        build_dataset(out, build)
    return out


def data_for(
    profile: Profile | None, table: int = 1, data: str | Path | None = None, root: Path | None = None
) -> Path:
    """The data step of every command and notebook: the user's data set, else the profile's embedded one.

    ``data`` (a dataset folder, e.g. made by ``mtlsed import``) is checked to exist and returned
    resolved; without it, the embedded set the profile asks for is mixed into ``root/data`` on first
    use (Table 1: the overlapped recipe, Table 2: the DESED-like one) and reused after.
    """
    if data is not None:
        data = Path(data).expanduser()
        if not data.is_dir():
            raise UserError(f"{data}: dataset folder not found")
        if not (data / "weak.tsv").is_file():
            raise UserError(
                f"{data}: not a dataset folder (no weak.tsv); make one with `mtlsed import SRC {data}`"
            )
        return data.resolve()
    if profile is None:
        raise UserError("give the data set (--data DIR): there is no profile to take an embedded set from")
    return ensure_data(profile, table, Path(root or Path.cwd()) / "data")
