"""Scenario files: typed, validated, every key documented, errors that name the key."""

from __future__ import annotations

import pytest

from model import AIMarketModel
from model.config import (
    CONFIG_DIR,
    Config,
    ConfigError,
    describe,
    load_config,
    parameter_table,
    scenario_names,
)
from tests.conftest import SCENARIOS


def test_the_six_scenarios_of_the_design_exist_with_descriptions():
    assert set(SCENARIOS) <= set(scenario_names())
    for name in SCENARIOS:
        cfg = load_config(name)
        assert cfg.name == name and cfg.description


def test_baseline_file_states_every_default_of_the_schema():
    assert load_config("baseline").model_dump(exclude={"name", "description"}) == Config().model_dump(
        exclude={"name", "description"}
    )
    text = (CONFIG_DIR / "baseline.yaml").read_text()
    for row in describe(Config()):
        if "." in row["key"]:
            assert row["key"].split(".")[1] + ":" in text, row["key"]


def test_every_parameter_carries_a_unit_and_a_source():
    for row in describe(Config()):
        if "." in row["key"]:
            assert row["unit"] and row["source"], row["key"]


def test_scenarios_extend_and_headline_names_override():
    cfg = load_config("sudden-100x-proprietary", {"demand_elasticity": 1.7, "labs.count": 12})
    assert cfg.discovery.jump_size == 100 and not cfg.discovery.open_publication
    assert cfg.users.demand_elasticity == 1.7 and cfg.labs.count == 12
    model = AIMarketModel(scenario="sudden-100x", jump_size=10, n_users=500, steps=3)
    assert model.config.discovery.jump_size == 10 and model.users.choice.size == 500
    assert model.config.run.steps == 3


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"users.bogus": 1}, ["unknown key", "users.bogus"]),
        ({"users.demand_elasticity": "abc"}, ["users.demand_elasticity", "'abc'"]),
        ({"users.demand_elasticity": -1}, ["users.demand_elasticity", "-1", "greater than or equal"]),
        ({"labs": 3}, ["labs"]),
    ],
)
def test_bad_values_give_one_line_naming_the_key(overrides, words):
    with pytest.raises(ConfigError) as err:
        load_config("baseline", overrides)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_bad_files_give_one_line_naming_the_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("users: [1,\n")
    loop = tmp_path / "loop.yaml"
    loop.write_text(f"extends: {loop}\n")
    for path, word in [(broken, "malformed YAML"), (loop, "cycle"), (tmp_path / "none.yaml", "no such")]:
        with pytest.raises(ConfigError) as err:
            load_config(path)
        assert str(path) in str(err.value) and word in str(err.value)
    with pytest.raises(ConfigError, match="unknown scenario 'nope'"):
        load_config("nope")


def test_odd_parameter_table_matches_the_schema():
    odd = (CONFIG_DIR.parent / "docs" / "ODD.md").read_text()
    assert parameter_table(Config()) in odd, "regenerate with: aibubble show baseline --markdown"
