"""The one config: YAML round trip, strict keys and types, overrides."""

import pytest
import yaml

from mtlsed.config.settings import Config, ConfigError, load_config, parse_assignments


def test_defaults_follow_the_paper():
    cfg = Config()
    assert (cfg.loss.bce_weight, cfg.loss.segment_weight, cfg.loss.silent_weight) == (1, 0.2, 0.2)
    assert cfg.train.lr == 1e-3 and cfg.train.lr_decay == 0.9 and cfg.train.lr_decay_every == 1000
    # 64 ms / 32 ms at 32 kHz is Kong's 2048 / 1024, and a 10 s clip gives 311 frames.
    assert (cfg.features.n_fft, cfg.features.hop_length) == (2048, 1024)
    assert cfg.features.n_frames(320000) == (320000 - 2048) // 1024 + 1 == 311
    assert cfg.eval.t_collar == 0.2 and cfg.eval.percentage_of_length == 0.5


def test_yaml_round_trip(tmp_path):
    cfg = Config()
    cfg.model.channels = [4, 8]
    cfg.loss.selection = "topk"
    cfg.loss.topk = 3
    cfg.features.fmax = 8000.0
    path = cfg.save(tmp_path / "run" / "config.yaml")
    again = Config.load(path)
    assert again == cfg
    assert yaml.safe_load(path.read_text())["loss"]["topk"] == 3
    assert not list(path.parent.glob("*.tmp"))


def test_partial_yaml_keeps_defaults_and_widens_ints(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 1\nloss:\n  topk: 5\n")
    cfg = Config.load(path)
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.loss.topk == 5
    assert cfg.train.batch_size == Config().train.batch_size


def test_unknown_key_names_the_dotted_key_and_suggests(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  chanels: [8]\n")
    with pytest.raises(
        ConfigError, match=r"model\.chanels: unknown config key \(did you mean 'channels'\?\)"
    ):
        Config.load(path)
    with pytest.raises(ConfigError, match="optimizer: unknown config key"):
        Config.from_dict({"optimizer": {}})


@pytest.mark.parametrize(
    "data, message",
    [
        ({"train": {"lr": "fast"}}, r"train\.lr: expected a number, got str 'fast'"),
        ({"train": {"batch_size": 8.5}}, r"train\.batch_size: expected an integer, got float 8\.5"),
        ({"train": {"batch_size": True}}, r"train\.batch_size: expected an integer, got bool"),
        ({"train": {"amp": "yes"}}, r"train\.amp: expected true or false, got str 'yes'"),
        ({"model": {"channels": [8, "x"]}}, r"model\.channels\[1\]: expected an integer"),
        ({"model": {"channels": 8}}, r"model\.channels: expected a list, got int 8"),
        ({"model": {"name": "resnet"}}, r"model\.name: expected one of \['ddc_fap'"),
        ({"loss": {"selection": "labels"}}, r"loss\.selection: expected one of \['label', 'topk'\]"),
        ({"features": {"fmax": "high"}}, r"features\.fmax: expected a number"),
        ({"train": 3}, r"train: expected a mapping, got int 3"),
    ],
)
def test_wrong_types_are_rejected_with_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_dict(data)


def test_optional_accepts_none():
    assert Config.from_dict({"features": {"fmax": None}}).features.fmax is None


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="missing.yaml: config file not found"):
        Config.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml:2: not valid YAML"):
        Config.load(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("train:\n  iterations: many\n")
    with pytest.raises(ConfigError, match=r"wrong.yaml: train\.iterations: expected an integer"):
        Config.load(wrong)


def test_overrides_from_strings_and_dicts():
    cfg = load_config(None, ["train.lr=0.01", "model.channels=[8, 16]", "loss.selection=topk"])
    assert cfg.train.lr == 0.01 and cfg.model.channels == [8, 16] and cfg.loss.selection == "topk"
    cfg2 = Config().with_overrides({"eval.frame_threshold": 0.3})
    assert cfg2.eval.frame_threshold == 0.3
    assert Config().eval.frame_threshold == 0.5  # the original is untouched
    with pytest.raises(ConfigError, match=r"train\.lrr: unknown config key \(did you mean 'lr'\?\)"):
        Config().with_overrides({"train.lrr": 1})
    with pytest.raises(ConfigError, match="trian: unknown config section"):
        Config().with_overrides({"trian.lr": 1})
    # a dotted key below a key names the key, not a missing section
    with pytest.raises(
        ConfigError, match=r"train\.lr\.x: train\.lr is a key, not a config section; set it as train\.lr="
    ):
        Config().with_overrides({"train.lr.x": 1})
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_assignments(["train.lr"])
    with pytest.raises(ConfigError, match=r"train\.iterations: expected an integer"):
        Config().with_overrides(["train.iterations=ten"])


def test_exponent_without_a_dot_is_a_number_and_ranges_are_checked():
    """#10: YAML 1.1 reads ``1e-3`` as text; it means 0.001. Out-of-range values name their key."""
    assert Config().with_overrides(["train.lr=1e-3"]).train.lr == 0.001
    assert Config().with_overrides({"train.lr": "5E-4"}).train.lr == 0.0005
    with pytest.raises(ConfigError, match=r"train\.lr: expected a number, got str 'fast'"):
        Config().with_overrides(["train.lr=fast"])
    with pytest.raises(ConfigError, match=r"train\.iterations: must be at least 1, got 0"):
        Config().with_overrides(["train.iterations=0"])
    with pytest.raises(ConfigError, match=r"model\.dropout: must be in \[0, 1\), got 1\.0"):
        Config().with_overrides(["model.dropout=1.0"])


@pytest.mark.parametrize("key", ["root", "val_fraction", "test_fraction", "split_seed"])
def test_removed_data_keys_say_where_their_job_went(key):
    # an old profile or a run folder's config.yaml with a key nothing read any more fails loudly
    with pytest.raises(ConfigError, match=rf"data\.{key}: no longer a config key; .*(--data DIR|split\.tsv)"):
        Config.from_dict({"data": {key: 1}})
    assert Config.from_dict({"data": {"clip_seconds": 5.0}}).data.clip_seconds == 5.0
