"""The project's packaging: layout, pyproject vs environment.yml, profiles, CLI."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import mtlsed
from mtlsed.config.profiles import available_profiles, load_profile
from mtlsed.config.settings import Config, ConfigError

ROOT = Path(__file__).resolve().parent.parent


def _normalise(req: str) -> tuple[str, str]:
    r = Requirement(req)
    return r.name.lower().replace("_", "-"), str(r.specifier)


def test_layout_matches_the_design():
    for name in [
        "book",
        "README.md",
        "environment.yml",
        "mtlsed",
        "notebooks",
        "tests",
        "_config.yml",
        "_toc.yml",
        "pyproject.toml",
        "Makefile",
        "mtlsed/config/params",
        "setup.py",
        "bench",
        ".ci/run",
        "LICENSE",
        "CITATION.cff",
    ]:
        assert (ROOT / name).exists(), name


def _lock() -> dict[str, str]:
    """``{name: version}`` of requirements/lock.txt; every line ``name==version``."""
    pins = {}
    for n, line in enumerate((ROOT / "requirements" / "lock.txt").read_text().splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version and " " not in line, f"lock.txt:{n}: not name==version: {line!r}"
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_lock_pins_every_dependency_inside_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pins = _lock()
    for req in project["dependencies"] + extras["book"] + extras["test"]:
        r = Requirement(req)
        if r.marker is not None and not r.marker.evaluate():
            continue  # tomli, for Python 3.10 only
        name = r.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in requirements/lock.txt (run make lock)"
        assert r.specifier.contains(pins[name], prereleases=True), f"lock: {name}=={pins[name]} outside {r}"


def test_make_installs_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK := requirements/lock.txt" in makefile
    # both installs of the environment are constrained by it (torch's line left to TORCH_SPEC)
    assert makefile.count("pip install --quiet -c $(CONSTRAINTS)") == 2
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_normalise(r) for r in project["dependencies"] + project["optional-dependencies"]["book"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_normalise(r) for r in pip_section if not r.startswith("-e")}
    assert listed == wanted, (
        f"only in environment.yml: {sorted(listed - wanted)}; only in pyproject: {sorted(wanted - listed)}"
    )
    assert any(r.startswith("-e .[book]") for r in pip_section)
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.removeprefix("python") == project["requires-python"]


def test_every_dependency_has_lower_and_upper_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = [project["dependencies"], *project["optional-dependencies"].values()]
    for req in (Requirement(r) for g in groups for r in g):
        ops = {s.operator for s in req.specifier}
        assert ops & {">=", ">", "=="} and ops & {"<", "<=", "=="}, f"{req} needs both bounds"


def test_profiles_build_valid_configs():
    assert {"ci", "cpu", "paper"} <= set(available_profiles())
    for name in available_profiles():
        profile = load_profile(name)
        assert profile.name == name
        assert isinstance(profile.config(), Config)
    assert load_profile("paper").config().features.sample_rate == 32000


def test_a_bad_profile_is_rejected_with_its_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: bad\ndescription: x\nn_clips: 10\nseeds: [0]\noverrides: {train.itrations: 5}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: overrides: train\.itrations: unknown config key"):
        load_profile(bad)
    bad.write_text("profile: bad\ndescription: x\nseeds: [0]\noverrides: {}\n")
    with pytest.raises(ConfigError, match="bad.yaml: missing key 'n_clips'"):
        load_profile(bad)
    with pytest.raises(ConfigError, match="profile 'nope' not found"):
        load_profile("nope")
    base = "profile: bad\ndescription: x\nn_clips: 10\nseeds: [0]\noverrides: {}\n"
    bad.write_text(base + "run_overrides: {train.lrr: 0.1}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: run_overrides: train\.lrr: unknown config key"):
        load_profile(bad)
    bad.write_text(base + "run_overide: {}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key\(s\) \['run_overide'\]"):
        load_profile(bad)
    bad.write_text(base)  # run_overrides is optional
    assert load_profile(bad).params["run_overrides"] == {}


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "mtlsed", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_help_version_and_config():
    out = _cli("--help")
    assert out.returncode == 0 and "usage: mtlsed" in out.stdout and "config" in out.stdout
    out = _cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"mtlsed {mtlsed.__version__}"
    out = _cli("config", "--profile", "ci", "--set", "train.lr=0.5")
    assert out.returncode == 0
    resolved = yaml.safe_load(out.stdout)
    assert resolved["train"]["lr"] == 0.5 and resolved["features"]["sample_rate"] == 16000
    out = _cli("config", "--set", "train.lrr=0.5")
    assert out.returncode == 2
    assert "mtlsed config: error: train.lrr: unknown config key" in out.stderr
    assert "Traceback" not in out.stderr


def test_every_error_a_user_causes_has_one_root():
    """The CLI catches UserError (and the OS's missing/existing-file errors): every error type the package
    defines for a user's input derives from it, and keeps its built-in base for older callers."""
    from mtlsed.core import errors

    for name in ("ConfigError", "FormatError", "AudioError"):
        assert issubclass(getattr(errors, name), errors.UserError), name
    assert issubclass(errors.FormatError, ValueError) and issubclass(errors.AudioError, RuntimeError)
    defined = []
    for path in (ROOT / "mtlsed").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                defined.append((path.relative_to(ROOT).as_posix(), node.name))
    for rel, name in defined:
        module = importlib.import_module(rel.removesuffix(".py").replace("/", "."))
        assert issubclass(getattr(module, name), errors.UserError), f"{rel}: {name} is not a UserError"
    cli = (ROOT / "mtlsed" / "cli" / "main.py").read_text()
    assert "except (UserError, FileNotFoundError, FileExistsError)" in cli


def test_ruff_finds_nothing_in_the_tree():
    """`make lint` as a test: the package, the tests, bench/ and the notebooks' twins (which must define
    every name they use, so the twins' parameters stand-in defines the defaults)."""
    ruff = Path(sys.executable).with_name("ruff")
    found = subprocess.run(
        [str(ruff if ruff.is_file() else "ruff"), "check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0, found.stdout[-3000:] + found.stderr[-1000:]
