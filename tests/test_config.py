"""Config loading: every shipped config validates; bad input names the key and the file."""

import re
from pathlib import Path

import pytest

from jaxopt_lab.config import (
    MAX_SEED,
    ConfigError,
    config_from_dict,
    config_to_dict,
    load_config,
)
from jaxopt_lab.studies.load import load_spec

CONFIGS = Path(__file__).parents[1] / "configs"
NOTEBOOK = {"sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.01, "adam": 1e-3}


def _write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "name",
    ["sgd", "momentum", "nesterov", "adagrad", "adam", "rmsprop", "adadelta", "nadam", "adamw"],
)
def test_every_optimizer_config_loads_with_the_notebook_protocol(name):
    config = load_config(CONFIGS / f"{name}.yaml")
    assert config.optimizer.name == name
    assert (config.train.epochs, config.train.batch_size) == (15, 32)
    assert config.model.hidden_sizes == [128] and config.model.init == "torch"
    if name in NOTEBOOK:
        assert config.optimizer.learning_rate == NOTEBOOK[name]


def test_overrides_set_nested_values_parsed_as_yaml():
    config = load_config(
        CONFIGS / "adam.yaml",
        ["train.epochs=3", "train.seeds=[0,1,2]", "optimizer.learning_rate=[1e-3,3e-3]"],
    )
    assert config.train.epochs == 3
    assert config.train.seeds == [0, 1, 2]
    assert config.optimizer.learning_rates == [1e-3, 3e-3]


def test_schedule_and_clipping_can_be_set_from_the_command_line():
    config = load_config(
        CONFIGS / "momentum.yaml",
        [
            "optimizer.schedule.name=cosine_decay_schedule",
            "optimizer.schedule.kwargs={init_value: 1.0, decay_steps: 100}",
            "optimizer.clipping={method: global_norm, threshold: 1.0}",
        ],
    )
    assert config.optimizer.schedule.kwargs["decay_steps"] == 100
    assert config.optimizer.clipping.method == "global_norm"


def test_unknown_key_names_the_key_and_the_file(tmp_path):
    path = _write(tmp_path, "optimizer: {name: adam, learning_rate: 0.001}\ntrain: {epoch: 3}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: train\.epoch: unknown key"):
        load_config(path)


def test_wrong_type_names_the_key_and_the_file(tmp_path):
    path = _write(tmp_path, "optimizer: {name: adam, learning_rate: fast}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: optimizer\.learning_rate: expected a number"):
        load_config(path)


def test_bad_override_names_the_set_option():
    with pytest.raises(ConfigError, match=r"--set train\.seeds .*expected a list of an integer"):
        load_config(CONFIGS / "adam.yaml", ["train.seeds=3"])
    with pytest.raises(ConfigError, match=r"--set train\.epochz .*unknown key"):
        load_config(CONFIGS / "adam.yaml", ["train.epochz=3"])


@pytest.mark.parametrize(
    "optimizer, key",
    [
        ({"name": "adamm", "learning_rate": 1e-3}, "optimizer.name"),
        (
            {"name": "adam", "learning_rate": 1e-3, "hparams": {"beta1": 0.9}},
            "optimizer.hparams.beta1",
        ),
        ({"name": "adam", "learning_rate": 1e-3, "hparams": {"b1": 1.5}}, "optimizer.hparams"),
        ({"name": "adam", "learning_rate": -1.0}, "optimizer.learning_rate"),
        (
            {"name": "adam", "learning_rate": 1e-3, "schedule": {"name": "nope"}},
            "optimizer.schedule.name",
        ),
        (
            {"name": "adam", "learning_rate": 1e-3, "schedule": {"name": "linear_schedule"}},
            "optimizer.schedule.kwargs",
        ),
        (
            {"name": "sgd", "learning_rate": 1e-3, "clipping": {"method": "norm", "threshold": 1}},
            "optimizer.clipping.method",
        ),
    ],
)
def test_bad_optimizer_values_name_their_key(optimizer, key):
    with pytest.raises(ConfigError, match="^" + re.escape(f"where.yaml: {key}:")):
        config_from_dict({"optimizer": optimizer}, source="where.yaml")


def test_missing_optimizer_section_is_reported():
    with pytest.raises(ConfigError, match="optimizer: missing"):
        config_from_dict({}, source="x.yaml")


def test_yaml_1e_minus_3_is_a_float_and_the_dict_round_trips(tmp_path):
    path = _write(tmp_path, "optimizer: {name: adam, learning_rate: 1e-3}\n")
    config = load_config(path)
    assert config.optimizer.learning_rate == 1e-3
    assert config_from_dict(config_to_dict(config)) == config


def test_cautious_is_stored_only_when_true_so_older_configs_read_and_hash_as_before():
    plain = config_from_dict({"optimizer": {"name": "optax.lion", "learning_rate": 1e-4}})
    assert "cautious" not in config_to_dict(plain)["optimizer"]
    assert plain.optimizer.label == "optax.lion"
    wrapped = config_from_dict(
        {"optimizer": {"name": "optax.lion", "learning_rate": 1e-4, "cautious": True}}
    )
    assert config_to_dict(wrapped)["optimizer"]["cautious"] is True
    assert config_from_dict(config_to_dict(wrapped)) == wrapped
    assert wrapped.optimizer.label == "cautious(optax.lion)"


@pytest.mark.parametrize(("name", "base"), [("cautious_adamw", "adamw"), ("cautious_lion", "lion")])
def test_cautious_on_a_cautious_optimizer_is_refused_naming_its_base(name, base):
    with pytest.raises(ConfigError, match=rf"optimizer\.cautious: {name} masks .*\({base}\)"):
        config_from_dict({"optimizer": {"name": name, "learning_rate": 1e-3, "cautious": True}})


def test_a_duplicate_key_names_the_key_and_both_lines(tmp_path):
    path = _write(
        tmp_path,
        "optimizer: {name: adam, learning_rate: 1e-3}\ntrain:\n  epochs: 2\n  epochs: 3\n",
    )
    with pytest.raises(ConfigError, match=r"c\.yaml: duplicate key 'epochs' \(lines 3 and 4\)"):
        load_config(path)


@pytest.mark.parametrize("load", [load_config, load_spec])
def test_config_and_study_files_share_the_duplicate_and_utf8_checks(tmp_path, load):
    path = _write(tmp_path, "base:\n  train: {epochs: 2}\nbase: {}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: duplicate key 'base' \(lines 1 and 3\)"):
        load(path)
    path.write_bytes(b"kind: compare\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: not UTF-8 text.*save it as UTF-8"):
        load(path)


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"optimizer: {name: adam, learning_rate: 0.001}\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: not UTF-8 text"):
        load_config(path)


def test_missing_files_and_directories_are_config_errors_naming_where_they_were_looked_for(
    tmp_path,
):
    with pytest.raises(ConfigError, match=r"nope\.yaml does not exist \(looked for /"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_a_bad_list_item_set_from_the_command_line_blames_set(tmp_path):
    path = _write(tmp_path, "optimizer: {name: adam, learning_rate: 1e-3}\n")
    with pytest.raises(ConfigError, match=r"^--set train\.seeds\[1\] \(config .*c\.yaml\)"):
        load_config(path, ["train.seeds=[0, x]"])


def test_seeds_outside_the_int32_range_are_refused_naming_the_range(tmp_path):
    path = _write(tmp_path, "optimizer: {name: adam, learning_rate: 1e-3}\n")
    assert load_config(path, [f"train.seeds=[0, {MAX_SEED}]"]).train.seeds == [0, MAX_SEED]
    with pytest.raises(
        ConfigError,
        match=r"^--set train\.seeds \(config .*c\.yaml\): train\.seeds: "
        r"each seed must lie in 0 … 2147483647 .*got 2147483648$",
    ):
        load_config(path, ["train.seeds=[0, 2147483648]"])
    path = _write(tmp_path, "optimizer: {name: adam, learning_rate: 1e-3}\ntrain: {seeds: [-1]}\n")
    with pytest.raises(ConfigError, match=r"^\S*c\.yaml: train\.seeds: .*0 … 2147483647.*-1$"):
        load_config(path)


def test_a_negative_split_seed_is_refused_by_the_config(tmp_path):
    path = _write(tmp_path, "optimizer: {name: adam, learning_rate: 1e-3}\n")
    with pytest.raises(ConfigError, match=r"^--set data\.split_seed .*must be ≥ 0 .*got -1$"):
        load_config(path, ["data.split_seed=-1"])
