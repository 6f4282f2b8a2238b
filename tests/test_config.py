"""Scenario files: typed, validated, every key documented, errors that name the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aibubble import AIMarketModel
from aibubble.config import (
    CONFIG_DIR,
    SHOCK_KEYS,
    Config,
    ConfigError,
    _leaves,
    behavioural_overrides,
    describe,
    load_config,
    parameter_file,
    parameter_table,
    read_yaml,
    scenario_names,
)
from tests.conftest import SCENARIOS


def test_the_six_scenarios_of_the_design_exist_with_descriptions():
    assert set(SCENARIOS) <= set(scenario_names())
    for name in SCENARIOS:
        cfg = load_config(name)
        assert cfg.name == name and cfg.description


@pytest.mark.parametrize("name", scenario_names())
def test_a_shipped_scenario_changes_only_its_shock_and_horizon(name):
    """One parameter set for every scenario (issue 15): a scenario may set its shock and horizon
    (SHOCK_KEYS), never how the agents behave."""
    overridden = behavioural_overrides(name)
    assert not overridden, (
        f"scenario '{name}' overrides behavioural parameters of the baseline: {', '.join(overridden)} "
        "(a scenario may set only SHOCK_KEYS in model/config.py)"
    )


def test_a_behavioural_override_is_flagged_through_the_extends_chain(tmp_path):
    (tmp_path / "elastic.yaml").write_text(
        "extends: baseline\nusers:\n  demand_elasticity: 1.1\n"  # even at the baseline's value
        "discovery:\n  jump_size: 10.0\n  jump_month: 12\n"
    )
    (tmp_path / "child.yaml").write_text(
        "extends: elastic.yaml\ndescription: x\nrun:\n  steps: 60\n"
        "hyperscalers:\n  forecast_optimism: 2.0\n  max_debt_to_book: 2.0\n"
    )
    assert behavioural_overrides(tmp_path / "elastic.yaml") == ["users.demand_elasticity"]
    assert behavioural_overrides(tmp_path / "child.yaml") == [
        "hyperscalers.max_debt_to_book",
        "users.demand_elasticity",
    ]
    assert behavioural_overrides("baseline") == []
    assert {"discovery.jump_size", "discovery.open_publication", "run.steps"} <= SHOCK_KEYS


def test_baseline_file_states_every_default_of_the_schema():
    """baseline.yaml writes each hand-set value, and names the estimated ones beside their
    hand-set value: without its parameter file it is the schema's defaults."""
    hand_set = load_config("baseline", {"parameters": "none"})
    assert hand_set.model_dump(exclude={"name", "description"}) == Config().model_dump(
        exclude={"name", "description"}
    )
    text = (CONFIG_DIR / "baseline.yaml").read_text()
    estimated = set(_leaves(parameter_file("record-2025")[1]))
    for row in describe(Config()):
        if "." in row["key"]:
            name = row["key"].split(".")[1]
            written = f"# {name}: [estimated] hand-set" if row["key"] in estimated else f"  {name}:"
            assert written in text, row["key"]


@pytest.mark.parametrize("name", scenario_names())
def test_every_shipped_scenario_runs_the_estimated_parameters(name):
    """The calibration's medians reach every scenario (issue 15) unless the scenario's shock is
    that very key (demand-mania's herding)."""
    source, estimates = parameter_file("record-2025")
    assert "record-2025" in source
    cfg = load_config(name)
    assert cfg.parameters == "record-2025"
    written = set(_leaves(read_yaml(CONFIG_DIR / f"{name}.yaml")))
    for key in _leaves(estimates):
        section, field = key.split(".")
        if key not in written:
            assert getattr(getattr(cfg, section), field) == estimates[section][field], key


def test_what_a_file_or_set_states_wins_over_the_parameter_file(tmp_path):
    own = tmp_path / "own.yaml"
    own.write_text("extends: baseline\nusers:\n  demand_elasticity: 1.4\n")
    assert load_config(own).users.demand_elasticity == 1.4
    estimated = parameter_file("record-2025")[1]["users"]["tokens_per_user_month"]
    assert load_config(own).users.tokens_per_user_month == estimated  # the rest still estimated
    assert load_config("baseline", {"demand_elasticity": 0.5}).users.demand_elasticity == 0.5
    # another calibration's calibrated.yaml, named from a file (read from that file's folder)
    (tmp_path / "cal").mkdir()
    (tmp_path / "cal" / "calibrated.yaml").write_text("users:\n  demand_elasticity: 0.6\n")
    (tmp_path / "mine.yaml").write_text("extends: baseline\nparameters: cal/calibrated.yaml\n")
    cfg = load_config(tmp_path / "mine.yaml")
    assert cfg.users.demand_elasticity == 0.6
    assert cfg.users.tokens_per_user_month == Config().users.tokens_per_user_month  # one file at a time
    row = next(r for r in describe(cfg) if r["key"] == "users.demand_elasticity")
    assert row["source"].startswith("estimated (calibrated.yaml); hand-set 1.1: NBER")


@pytest.mark.parametrize(
    "text, words",
    [
        ("users:\n  bogus: 1\n", ["bad.yaml", "unknown parameter 'users.bogus'"]),
        ("discovery:\n  jump_size: 10\n", ["bad.yaml", "'discovery.jump_size'", "shock or horizon"]),
        ("run:\n  seed: 3\n", ["bad.yaml", "'run.seed'", "shock or horizon"]),
        ("source: [1]\nusers:\n  bass_q: 0.4\n", ["bad.yaml", "'source' must be text"]),
        ("users:\n  demand_elasticity: -1\n", ["users.demand_elasticity", "greater than or equal"]),
    ],
)
def test_a_bad_parameter_file_gives_one_line_naming_it(tmp_path, text, words):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config("baseline", {"parameters": str(tmp_path / "bad.yaml")})
    assert "\n" not in str(err.value) and all(w in str(err.value) for w in words), str(err.value)


def test_an_unknown_parameter_file_names_the_shipped_ones():
    with pytest.raises(
        ConfigError, match=r"'parameters' = 'record-1999': no such parameter file \(shipped: record-2025"
    ):
        load_config("baseline", {"parameters": "record-1999"})


def test_every_parameter_carries_a_unit_and_a_source():
    for row in describe(Config()):
        if "." in row["key"]:
            assert row["unit"] and row["source"], row["key"]


def test_scenarios_extend_and_headline_names_override():
    cfg = load_config("sudden-100x-proprietary", {"demand_elasticity": 1.7, "labs.count": 12})
    assert cfg.discovery.jump_size == 100 and not cfg.discovery.open_publication
    assert cfg.users.demand_elasticity == 1.7 and cfg.labs.count == 12
    model = AIMarketModel(scenario="sudden-100x", jump_size=10, jump_month=2, n_users=500, steps=3)
    assert model.config.discovery.jump_size == 10 and model.users.choice.size == 500
    assert model.config.run.steps == 3


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"users.bogus": 1}, ["unknown key", "users.bogus"]),
        ({"users.demand_elasticity": "abc"}, ["users.demand_elasticity", "'abc'"]),
        ({"users.demand_elasticity": -1}, ["users.demand_elasticity", "-1", "greater than or equal"]),
        ({"labs": 3}, ["labs"]),
        ({"run.steps": True}, ["run.steps", "expected a number, got true"]),
        ({"users.demand_elasticity": False}, ["users.demand_elasticity", "got false"]),
        ({"jump_size": float("nan")}, ["discovery.jump_size", "finite number"]),
        ({"users.tokens_per_user_month": float("inf")}, ["users.tokens_per_user_month", "finite number"]),
        ({"labs.initial_cash_usd": float("-inf")}, ["labs.initial_cash_usd", "finite number"]),
        # scripted discoveries that could never happen would silently give the baseline
        ({"jump_size": 10, "jump_month": 0}, ["discovery.jump_month = 0", "months 1..120"]),
        ({"jump_size": 10, "jump_month": 121}, ["discovery.jump_month = 121", "run.steps"]),
        ({"jump_size": 10, "steps": 12}, ["discovery.jump_month = 36", "months 1..12"]),
        ({"jump_size": 10, "discovery.lab": 20}, ["discovery.lab = 20", "0..19", "labs.count"]),
        ({"jump_size": 10, "discovery.jump_size": 20}, ["--set jump_size", "discovery.jump_size", "once"]),
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


@pytest.mark.parametrize(
    "content, word",
    [
        (b"run:\n  steps: 3\nrun:\n  steps: 4\n", "duplicate key 'run'"),
        (b"users:\n  bass_p: 0.1\n  bass_p: 0.2\n", "duplicate key 'bass_p'"),
        (b"", "empty"),
        (b"# only a comment\n", "empty"),
        (b"\xff\xfe\x00r\x00u\x00n", "not a UTF-8 text file"),
        (b"run:\x00\n", "NUL"),
        (b"- 1\n- 2\n", "expected a mapping"),
    ],
)
def test_files_that_are_not_one_clean_mapping_are_refused_naming_the_file(tmp_path, content, word):
    path = tmp_path / "scenario.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and word in str(err.value) and "\n" not in str(err.value)


def test_a_relative_extends_is_read_from_the_files_own_folder(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "parent.yaml").write_text("extends: sudden-100x\nusers:\n  n_segments: 321\n")
    (folder / "child.yaml").write_text("extends: parent.yaml\nlabs:\n  count: 7\n")
    (folder / "ping.yaml").write_text("extends: pong.yaml\n")
    (folder / "pong.yaml").write_text("extends: ping.yaml\n")
    monkeypatch.chdir(tmp_path)  # not the files' folder
    cfg = load_config(folder / "child.yaml")
    assert (cfg.users.n_segments, cfg.labs.count, cfg.discovery.jump_size) == (321, 7, 100)
    with pytest.raises(ConfigError, match="forms a cycle"):
        load_config(folder / "ping.yaml")


def test_a_scripted_discovery_whose_lab_failed_goes_to_the_largest_living_lab():
    """The reliability report's crash: lab 0 went bankrupt before its scripted month (58).
    The bankruptcy is forced here, so the test does not depend on which economics make it."""
    model = AIMarketModel(
        scenario="sudden-100x",
        jump_size=19.086314294543953,
        jump_month=58,
        open_publication=False,
        n_users=100,
        steps=60,
        rng=1022896938,
    )
    for _ in range(30):
        model.step()
    model.labs[0].go_bankrupt(model.steps, 0.0)
    model.run_model()
    events = model.events_frame()
    note = events[events["kind"] == "scripted_reassigned"]
    assert not model.labs[0].alive and len(note) == 1 and note["step"].item() == 58
    maker = int(note["detail"].item().removeprefix("made by lab "))
    assert model.labs[maker].alive
    scripted = events[(events["kind"] == "discovery") & (events["cause"] == "scripted")]
    assert scripted["detail"].item().startswith(f"proprietary; lab={maker};")


def test_odd_parameter_table_matches_the_schema():
    odd = (CONFIG_DIR.parent / "docs" / "ODD.md").read_text()
    assert parameter_table(load_config("baseline")) in odd, (
        "regenerate with: aibubble show baseline --markdown"
    )


REPO = Path(__file__).resolve().parent.parent
# docs/findings/ is generated by `aibubble report` (model/experiments/report.py), so it is left out
CITING = ["README.md", "docs/*.md", "config/*.yaml", "config/sweeps/*.yaml"]


def _anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings (lower case, punctuation dropped)."""
    found = set()
    for line in markdown.splitlines():
        heading = re.match(r"#{1,6} (.+)", line)
        if heading:
            text = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower())
            found.add(text.replace(" ", "-"))
    return found


def test_every_cited_source_and_design_choice_resolves_inside_the_repository():
    docs = {name: _anchors((REPO / "docs" / name).read_text()) for name in ("sources.md", "design.md")}
    texts = {"model/config.py sources": " ".join(row["source"] for row in describe(Config()))}
    for pattern in CITING:
        texts.update({str(p.relative_to(REPO)): p.read_text() for p in sorted(REPO.glob(pattern))})
    cited = 0
    for where, text in texts.items():
        for doc, anchor in re.findall(r"\b(sources\.md|design\.md)#([\w-]+)", text):
            cited += 1
            assert anchor in docs[doc], f"{where} cites {doc}#{anchor}, which docs/{doc} does not define"
        if where.startswith("docs/"):  # links within one page
            for anchor in re.findall(r"\]\(#([\w-]+)\)", text):
                assert anchor in _anchors(text), f"{where} links to #{anchor}, which it does not define"
        for outside in ("../shared", "CALIBRATION.md", "DESIGN.md", "REVIEW.md"):
            assert outside not in text, f"{where} cites {outside}, which is not in the repository"
    assert cited > 30


def test_a_parameter_that_names_a_source_points_into_the_repository():
    not_a_source = ("hypothesis", "scenario", "any integer", "resolution choice")
    for row in describe(Config()):
        key, source = row["key"], row["source"]
        if "." in key and not source.startswith(not_a_source):
            assert re.search(r"\b(sources|design)\.md#", source), key
