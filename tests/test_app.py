"""The interactive page (model/page/) and the `viz` command, without a browser.

The page is rendered with `solara.render` inside an AppLayout, as `solara run` serves it; the
tests then press its buttons and move its controls like a person would, and check the model.
"""

from __future__ import annotations

import html
import io
import json
import statistics
import time
import zipfile
from collections.abc import Callable
from functools import cache

import ipyvuetify as v
import jsonschema
import numpy as np
import pandas as pd
import pytest
import solara
import solara.widgets
from click.testing import CliRunner
from mesa.visualization.utils import force_update
from solara.components.file_download import FileDownloadWidget

from aibubble import AIMarketModel, finance
from aibubble.cli.serve import SCENARIO_ENV, viz
from aibubble.config import load_config, scenario_names
from aibubble.page import analyst, app, charts, controls, tables, vega, viz_model


@pytest.fixture(autouse=True)
def pages():
    """Render contexts opened by a test, closed after it.

    Mesa's update counter is one reactive variable for every page in the process: a page left
    open would redraw on every later test's Step.
    """
    opened = []
    yield opened
    for rc in opened:
        rc.close()


@pytest.fixture
def render(pages):
    """Render the page for a scenario; returns (reactive model, render context)."""

    def open_page(scenario: str = "sudden-100x"):
        model = solara.reactive(viz_model.build_model(scenario))
        _box, rc = solara.render(
            solara.AppLayout(children=[app.Page(model=model, scenario=scenario)]), handle_error=False
        )
        pages.append(rc)
        return model, rc

    return open_page


def until(shown: Callable[[], object], timeout_s: float = 30) -> None:
    """Wait until the page shows a change: it is rendered at once, unless a view's redraw in a
    background thread holds the render; that thread then renders the change a moment later."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if shown():
                return
        except (AssertionError, ValueError):  # the widget is not there yet
            pass
        time.sleep(0.02)
    # the caller's assertion says what is missing


def button(rc, label: str) -> v.Btn:
    return rc.find(v.Btn, children=[label]).widget


def _html_widgets(rc, css_class: str) -> list:
    widgets = rc.find(solara.widgets.HTML).widgets
    return [w for w in widgets if (w.attributes or {}).get("class") == css_class]


def html_of(rc, css_class: str) -> str:
    (widget,) = _html_widgets(rc, css_class)
    return widget.unsafe_innerHTML


def chart_widgets(rc) -> dict[str, vega.VegaChart]:
    return {w.name: w for w in rc.find(vega.VegaChart).widgets}


def chart_updates(rc) -> dict[str, dict]:
    """Each chart's update (its data, signals and stamp), by chart."""
    return {name: json.loads(w.update) for name, w in chart_widgets(rc).items()}


@cache
def vega_lite_validator() -> jsonschema.protocols.Validator:
    """A validator for the Vega-Lite the browser runs (solara-assets ships its JSON schema)."""
    (vega_lite,) = [path for path in vega.asset_files() if path.parts[-3].startswith("vega-lite@")]
    schema = json.loads((vega_lite.parent / "vega-lite-schema.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def valid_vega_lite(spec: dict) -> None:
    vega_lite_validator().validate(spec)


def alerts(rc) -> list[str]:
    return [str(a.children[0]) if a.children else "" for a in rc.find(v.Alert).widgets]


def custom_size_field(rc) -> v.TextField:
    label = "custom size, x efficiency (>1)"
    until(lambda: rc.find(v.TextField, label=label).widget)
    return rc.find(v.TextField, label=label).widget


def shown_time(rc) -> str:
    spans = [w for w in rc.find(v.Html, tag="span").widgets if w.children and "Time:" in str(w.children[0])]
    return spans[0].children[0]


# ----------------------------------------------------------------------------- the page
def test_page_starts_at_the_scenarios_values_with_every_view(render):
    model, rc = render("sudden-100x")
    sliders = {w.label: w.v_model for w in rc.find(v.Slider).widgets}
    assert sliders["Jump size, x (1 = none)"] == 100.0
    assert sliders["Jump month"] == 36
    assert sliders["Demand elasticity"] == pytest.approx(load_config("sudden-100x").users.demand_elasticity)
    assert rc.find(v.Select, label="Scenario").widget.v_model == "sudden-100x"
    assert rc.find(v.TextField, label="Seed (whole number)").widget.v_model == "42"
    views = chart_widgets(rc)
    assert set(views) == set(charts.CHARTS)
    descriptions = " ".join(json.loads(w.spec)["description"] for w in views.values())
    for view in ("capacity vs compute demand", "bubble indicator", "efficiency per lab", "rental price"):
        assert view in descriptions
    assert all(update["stamp"]["month"] == 0 for update in chart_updates(rc).values())
    assert 'data-month="0"' in html_of(rc, "aibubble-finance")
    assert "#5" in html_of(rc, "aibubble-hyperscalers")  # six hyperscalers
    assert "lab 19" in html_of(rc, "aibubble-labs")  # twenty labs
    assert model.value.steps == 0


def test_step_advances_the_model_one_month_and_sends_every_chart_its_new_data(render):
    model, rc = render()
    before = chart_updates(rc)
    button(rc, "Step").click()
    assert model.value.steps == 1
    until(lambda: shown_time(rc) == "Time: 1.0")
    assert shown_time(rc) == "Time: 1.0"
    after = chart_updates(rc)
    for name in charts.CHARTS:  # every chart gets the month's data, stamped with the month
        assert after[name]["stamp"]["month"] == 1
        assert after[name]["datasets"] != before[name]["datasets"]
    until(lambda: "month 1" in html_of(rc, "aibubble-events"))
    assert "month 1" in html_of(rc, "aibubble-events")
    assert 'data-month="1"' in html_of(rc, "aibubble-finance")


def test_discover_now_enters_the_running_model_at_the_current_month(render):
    model, rc = render("baseline")
    for _ in range(2):
        button(rc, "Step").click()
    rc.find(v.BtnToggle).widget.v_model = 2  # 2x, 10x, [100x], custom
    rc.find(v.Select, label="made by").widget.v_model = "lab 3"
    rc.find(v.Checkbox, label="published openly").widget.v_model = False
    button(rc, "Discover now").click()

    m = model.value
    discovery = m.diffusion.discoveries[-1]
    assert (discovery.step, discovery.gain, discovery.open, discovery.lab) == (2, 100.0, False, 3)
    step, _agent, _type, kind, cause, size, detail = m.events.rows[-1]
    assert (step, kind, cause, size) == (2, "discovery", "Discover now", 100.0)
    assert "proprietary" in detail
    until(lambda: "DISCOVERY ×100" in html_of(rc, "aibubble-events") and alerts(rc))
    assert "DISCOVERY ×100" in html_of(rc, "aibubble-events")
    assert "month 5" in alerts(rc)[-1]  # when lab 3 will have it

    lag = m.config.discovery.implementation_lag_months
    for _ in range(lag):
        button(rc, "Step").click()
    assert m.labs[3].gain >= 100  # its own lab runs it after the implementation lag ...
    assert all(lab.gain < 100 for lab in m.labs if lab.index != 3)  # ... rivals can't have copied it yet


def test_a_custom_discovery_by_an_independent_researcher_is_published(render):
    model, rc = render("baseline")
    rc.find(v.BtnToggle).widget.v_model = 3  # custom
    field = custom_size_field(rc)
    field.v_model = "7.5"
    field.fire_event("focusout", None)
    rc.find(v.Select, label="made by").widget.v_model = controls.INDEPENDENT
    independent = "published openly (independents always do)"
    until(lambda: rc.find(v.Checkbox, label=independent).widget.disabled)
    assert rc.find(v.Checkbox, label=independent).widget.disabled
    button(rc, "Discover now").click()
    discovery = model.value.diffusion.discoveries[-1]
    assert (discovery.gain, discovery.open, discovery.lab) == (7.5, True, None)


def test_a_custom_size_of_one_or_less_cannot_be_discovered(render):
    _model, rc = render("baseline")
    rc.find(v.BtnToggle).widget.v_model = 3
    field = custom_size_field(rc)
    field.v_model = "1"
    field.fire_event("focusout", None)
    refused = "size must be a number above 1"
    until(lambda: button(rc, "Discover now").disabled and any(refused in a for a in alerts(rc)))
    assert button(rc, "Discover now").disabled
    assert any(refused in a for a in alerts(rc))


BAD_SIZES = ["nan", "NaN", "inf", "-inf", "abc", "1e400", "-5", "0", "1", "10001", "", " ", "1,5", "0x10"]
BAD_SEEDS = ["nan", "abc", "-3", "1e400", "1.5", "inf", "9" * 40 + "x", "4 2"]  # empty: the default


def step_shows(model, rc) -> int:
    """Press Step; the page must show the next month (it keeps working)."""
    before = model.value.steps
    button(rc, "Step").click()
    assert model.value.steps == before + 1
    until(lambda: f"Month {before + 1}</b>" in html_of(rc, "aibubble-now"))
    assert f"Month {before + 1}</b>" in html_of(rc, "aibubble-now")
    return before + 1


@pytest.mark.parametrize("bad", BAD_SIZES)
def test_a_bad_custom_size_is_refused_with_its_value_and_the_page_keeps_stepping(render, bad):
    model, rc = render("baseline")
    rc.find(v.BtnToggle).widget.v_model = 3  # custom
    field = custom_size_field(rc)
    field.v_model = bad
    field.fire_event("focusout", None)
    refused = f"size must be a number above 1 and at most 10000, not {bad!r}"
    until(lambda: button(rc, "Discover now").disabled and refused in alerts(rc))
    assert button(rc, "Discover now").disabled and refused in alerts(rc)
    step_shows(model, rc)
    step_shows(model, rc)
    assert not [d for d in model.value.diffusion.discoveries if d.cause == "Discover now"]
    field = custom_size_field(rc)
    field.v_model = "50"  # and a good value still works afterwards
    field.fire_event("focusout", None)
    until(lambda: not button(rc, "Discover now").disabled)
    button(rc, "Discover now").click()
    assert model.value.diffusion.discoveries[-1].gain == 50.0


@pytest.mark.parametrize("bad", BAD_SEEDS)
def test_a_bad_seed_falls_back_to_the_scenarios_seed_says_so_and_the_page_keeps_stepping(render, bad):
    model, rc = render("baseline")
    seed = rc.find(v.TextField, label="Seed (whole number)").widget
    seed.v_model = bad
    seed.fire_event("focusout", None)
    button(rc, "Reset").click()
    assert model.value.seed == model.value.config.run.seed
    until(lambda: any("seed" in a and "the scenario's seed is used" in a for a in alerts(rc)))
    assert any("seed" in a and "the scenario's seed is used" in a for a in alerts(rc))
    step_shows(model, rc)


@pytest.mark.parametrize("end", ["min", "max"])
def test_every_slider_at_its_end_builds_a_model_that_steps(render, end):
    model, rc = render("sudden-100x")
    params = viz_model.model_params("sudden-100x").values()
    ours = {p["label"] for p in params if str(p.get("type", "")).startswith("Slider")}
    sliders = [w for w in rc.find(v.Slider).widgets if w.label in ours]  # not Mesa's render interval
    assert {w.label for w in sliders} == ours and len(ours) >= 4
    for widget in sliders:
        widget.v_model = getattr(widget, end)
    button(rc, "Reset").click()
    assert model.value.steps == 0
    for _ in range(3):
        step_shows(model, rc)


def test_a_moved_slider_overrides_the_scenario_on_reset_and_the_rest_keep_its_values(render):
    model, rc = render("sudden-100x")
    first = model.value
    rc.find(v.Slider, label="Demand elasticity").widget.v_model = 2.0
    button(rc, "Reset").click()
    m = model.value
    assert m is not first and m.steps == 0
    assert m.config.users.demand_elasticity == 2.0
    assert m.config.discovery.jump_size == 100.0 and m.config.discovery.jump_month == 36
    assert m.moved == ["demand_elasticity"]
    until(lambda: "set by sliders: demand_elasticity" in str(rc.find(v.Html, tag="span").widgets))
    assert "set by sliders: demand_elasticity" in str(rc.find(v.Html, tag="span").widgets)


def test_switching_scenario_uses_the_new_scenarios_values_for_untouched_sliders(render):
    model, rc = render("sudden-100x")
    rc.find(v.Select, label="Scenario").widget.v_model = "demand-mania"
    button(rc, "Reset").click()
    m = model.value
    assert m.scenario_name == "demand-mania" and m.config.name == "demand-mania"
    assert m.config.discovery.jump_size == 1.0  # not the 100 the slider still shows
    assert (
        m.config.hyperscalers.forecast_optimism
        == AIMarketModel("demand-mania").config.hyperscalers.forecast_optimism
    )


def test_the_seed_box_sets_the_seed_and_explains_a_bad_one(render):
    model, rc = render("baseline")
    seed = rc.find(v.TextField, label="Seed (whole number)").widget
    seed.v_model = "7"
    seed.fire_event("focusout", None)
    button(rc, "Reset").click()
    assert model.value.seed == 7
    seed.v_model = "seven"
    seed.fire_event("focusout", None)
    button(rc, "Reset").click()
    assert model.value.seed == model.value.config.run.seed
    until(lambda: any("not a whole number" in a for a in alerts(rc)))
    assert any("not a whole number" in a for a in alerts(rc))


def test_the_plain_page_reads_its_scenario_from_the_environment(monkeypatch, pages):
    monkeypatch.setenv(SCENARIO_ENV, "deepseek-2025")
    _box, rc = solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)
    pages.append(rc)
    assert rc.find(v.Select, label="Scenario").widget.v_model == "deepseek-2025"
    button(rc, "Step").click()
    until(lambda: shown_time(rc) == "Time: 1.0")
    assert shown_time(rc) == "Time: 1.0"
    button(rc, "Discover now").click()
    until(lambda: "DISCOVERY ×100" in html_of(rc, "aibubble-events"))
    assert "DISCOVERY ×100" in html_of(rc, "aibubble-events")


def test_an_unknown_scenario_is_named_on_the_page(monkeypatch, pages):
    monkeypatch.setenv(SCENARIO_ENV, "no-such-scenario")
    _box, rc = solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)
    pages.append(rc)
    assert "no-such-scenario" in str(rc.find(v.Alert).widget.children)


# ----------------------------------------------------------------------------- the model behind it
def test_the_page_model_runs_exactly_like_the_plain_model_when_no_slider_moved():
    page_model = viz_model.build_model("sudden-100x")
    plain = AIMarketModel(scenario="sudden-100x", rng=42)
    for _ in range(40):
        page_model.step()
        plain.step()
    assert page_model.model_frame().equals(plain.model_frame())


def test_a_month_at_the_default_population_takes_well_under_the_budget():
    model = viz_model.build_model("sudden-100x")
    times = []
    for _ in range(48):
        start = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.3  # seconds; ~3 ms on two cores


@pytest.mark.parametrize("scenario", scenario_names())
def test_every_chart_draws_from_the_first_to_the_last_month_of_every_scenario(scenario):
    """Every spec a chart takes on the way is valid Vega-Lite for the browser's version, and every
    month's data is JSON (no NaN: JSON has none)."""
    model = viz_model.build_model(scenario)
    shapes: dict[str, dict] = {}

    def draw_all() -> None:
        for name, (draw, _alt) in charts.CHARTS.items():
            chart = draw(model)
            shapes[chart.spec.shape] = chart.spec.value
            update = {"shape": chart.spec.shape, "datasets": chart.datasets, "signals": chart.signals}
            assert json.loads(vega.text(update))["datasets"], name
        assert tables.event_lines(model) is not None
        assert "lab 0" in tables.lab_table(model) and "#0" in tables.hyperscaler_table(model)
        assert 'class="aibubble-finance-table"' in analyst.finance_html(model)

    for month in range(model.config.run.steps + 1):
        if month in (0, 1, 12, 40) or not model.running:
            draw_all()
        if month == 40:  # the overlay's shapes too
            living = [lab.index for lab in model.labs if lab.alive]
            model.discover_now(10.0, False, living[0] if living else None)
            draw_all()
        if model.running:
            model.step()
    draw_all()
    for spec in shapes.values():
        valid_vega_lite(spec)


def test_a_chart_that_cannot_be_drawn_says_so_on_its_card_and_the_page_goes_on(pages):
    def broken(model):
        if model.steps >= 1:
            raise ValueError("no data")
        return charts.capacity_chart(model)

    view = charts._chart_component("capacity", broken, "capacity chart")
    model = viz_model.build_model("baseline")
    _box, rc = solara.render(view(model), handle_error=False)
    pages.append(rc)
    assert json.loads(rc.find(vega.VegaChart).widget.update)["stamp"]["month"] == 0
    model.step()
    force_update()  # what Step does after the month
    until(lambda: any("could not draw the capacity chart: no data" in a for a in alerts(rc)))
    assert any("could not draw the capacity chart: no data" in a for a in alerts(rc))


def test_log_axes_tick_every_decade_and_in_between_when_few():
    assert charts.log_ticks(np.array([1.5, 30.0])) == [1, 2, 5, 10, 20, 50, 100]
    assert charts.log_ticks(np.array([0.3, 2e4])) == [0.1, 1, 10, 100, 1000, 1e4, 1e5]
    assert charts.log_ticks(np.array([np.nan, 0.0])) == [1.0, 10.0]  # nothing a log axis can show


def test_the_charts_vega_files_ship_with_solara_assets_so_the_page_needs_no_internet():
    for path in vega.asset_files():
        assert path.is_file(), f"{path} is missing: the charts would be fetched from a CDN"


# ----------------------------------------------------------------------------- without the discovery
def step(model, months: int) -> None:
    for _ in range(months):
        model.step()


def test_the_run_without_the_discovery_is_the_same_run_until_the_discovery_and_then_differs():
    model = viz_model.build_model("sudden-100x")
    step(model, 5)
    assert model.twin is None
    model.discover_now(100.0, True, 0)
    twin = model.twin
    assert twin is not None and twin.steps == model.steps == 5
    step(model, 6)  # the twin steps with it
    assert twin.steps == model.steps == 11
    with_it, without = model.model_frame(), twin.model_frame()
    pd.testing.assert_frame_equal(with_it.iloc[:6], without.iloc[:6])  # months 0-5: identical
    assert not with_it["frontier_efficiency"].iloc[6:].equals(without["frontier_efficiency"].iloc[6:])
    agents_with, agents_without = model.agent_frame(), twin.agent_frame()
    up_to = agents_with["step"] <= 5
    pd.testing.assert_frame_equal(
        agents_with[up_to].reset_index(drop=True),
        agents_without[agents_without["step"] <= 5].reset_index(drop=True),
    )
    kinds = twin.events_frame()
    assert not (kinds["cause"] == "Discover now").any()  # the twin never had it
    assert (model.events_frame()["cause"] == "Discover now").sum() == 1


def test_a_second_discovery_keeps_the_run_without_any_of_them():
    model = viz_model.build_model("baseline")
    step(model, 2)
    model.discover_now(10.0, True, 0)
    twin = model.twin
    step(model, 2)
    model.discover_now(100.0, False, 1)
    assert model.twin is twin  # still the run without the page's discoveries
    assert not any(d.cause == "Discover now" for d in twin.diffusion.discoveries)


def test_discover_now_draws_the_run_without_it_on_three_charts_and_reset_drops_it(render):
    model, rc = render("sudden-100x")
    button(rc, "Step").click()
    button(rc, "Discover now").click()
    assert model.value.twin is not None
    overlaid = {"capacity", "prices", "capex"}
    until(lambda: all(chart_updates(rc)[name]["stamp"]["twin"] == 1 for name in overlaid))
    for name, widget in chart_widgets(rc).items():
        spec, update = json.loads(widget.spec), json.loads(widget.update)
        assert (charts.TWIN in json.dumps(spec)) == (name in overlaid), name
        assert ("twin" in update["datasets"]) == (name in overlaid), name
        assert update["shape"] == spec["usermeta"]["shape"]  # the data is for the spec it goes with
    button(rc, "Reset").click()
    assert model.value.twin is None and model.value.steps == 0
    until(
        lambda: all(u["stamp"]["twin"] == 0 and u["stamp"]["month"] == 0 for u in chart_updates(rc).values())
    )
    assert all(charts.TWIN not in widget.spec for widget in chart_widgets(rc).values())


# ----------------------------------------------------------------------------- the analyst's card
def test_the_finance_card_shows_this_months_indicators_of_the_whole_run():
    """The card computes the last row on the last 13 months only: the same row as on the whole run."""
    model = viz_model.build_model("sudden-100x")
    for months in (0, 1, 5, 14, 30):
        step(model, months - model.steps)
        whole = finance.finance_frame(model.model_frame(), model.config).iloc[-1]
        pd.testing.assert_series_equal(analyst.finance_row(model), whole, check_names=False)
    card = analyst.finance_html(model)
    assert 'data-month="30"' in card
    for measure in finance.INDICATORS.values():
        assert html.escape(measure.label) in card


def test_a_gauge_past_its_threshold_is_marked_with_the_threshold():
    model = AIMarketModel(scenario="sudden-100x", overrides={"finance.warn_capex_to_ai_revenue": 0.001})
    step(model, 13)
    card = analyst.finance_html(model)
    assert "⚠ above 0.00×" in card and 'data-warnings="' in card
    assert finance.warnings(analyst.finance_row(model), model.config)["capex_to_ai_revenue"]


def test_values_are_written_with_their_units():
    assert analyst.value_text(1.5e12, "USD per year") == "$1.5T per year"
    assert analyst.value_text(0.31, "fraction per year") == "31% per year"
    assert analyst.value_text(2.0, "ratio") == "2.00×"
    assert analyst.value_text(14.0, "months") == "14 months"
    assert analyst.value_text(float("nan"), "months") == "n/a"


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_downloads_hold_the_runs_tables_as_they_are_when_clicked():
    model = viz_model.build_model("sudden-100x")
    step(model, 3)
    parquet = unzip(analyst.zipped_tables(model, "parquet"))
    assert set(parquet) == {"model.parquet", "agents.parquet", "events.parquet", "finance.parquet"}
    frame = pd.read_parquet(io.BytesIO(parquet["model.parquet"]))
    pd.testing.assert_frame_equal(frame, model.model_frame())
    agents = pd.read_parquet(io.BytesIO(parquet["agents.parquet"]))
    assert len(agents) == len(model.agent_frame()) and agents["step"].max() == 3
    events = pd.read_parquet(io.BytesIO(parquet["events.parquet"]))
    assert len(events) == len(model.events_frame())
    csv = unzip(analyst.zipped_tables(model, "csv"))
    assert set(csv) == {"model.csv", "agents.csv", "events.csv", "finance.csv"}
    frame_csv = pd.read_csv(io.BytesIO(csv["model.csv"]), index_col="step")
    np.testing.assert_allclose(frame_csv["installed_capacity_h100e"], frame["installed_capacity_h100e"])
    assert len(pd.read_csv(io.BytesIO(csv["finance.csv"]))) == 4

    model.discover_now(100.0, True, 0)  # later clicks: the run as it is then, with its twin
    step(model, 2)
    later = unzip(analyst.zipped_tables(model, "parquet"))
    assert len(pd.read_parquet(io.BytesIO(later["model.parquet"]))) == 6
    assert len(pd.read_parquet(io.BytesIO(later["counterfactual/model.parquet"]))) == 6
    events = pd.read_parquet(io.BytesIO(later["events.parquet"]))
    assert (events["cause"] == "Discover now").sum() == 1


def test_the_download_buttons_build_their_file_when_clicked_from_the_run_as_it_is_then(render, monkeypatch):
    built: list[tuple[int, str]] = []
    monkeypatch.setattr(
        analyst, "zipped_tables", lambda model, fmt: built.append((model.steps, fmt)) or b"zip"
    )
    _model, rc = render("baseline")
    button(rc, "Step").click()
    assert built == []  # rendering (and stepping) never builds a file
    downloads = {w.filename: w for w in rc.find(FileDownloadWidget).widgets}
    assert set(downloads) == {"aibubble_baseline_seed42_parquet.zip", "aibubble_baseline_seed42_csv.zip"}
    downloads["aibubble_baseline_seed42_parquet.zip"].request_download = True  # what a click sets
    until(lambda: built)
    button(rc, "Step").click()
    downloads["aibubble_baseline_seed42_csv.zip"].request_download = True
    until(lambda: len(built) == 2)
    assert built == [(1, "parquet"), (2, "csv")]


@pytest.mark.parametrize(
    ("text", "seed"), [("", None), (" 12 ", 12), ("x1", None), ("-3", None), (None, None), (5, 5)]
)
def test_seed_text_is_read_as_a_whole_number_or_left_to_the_scenario(text, seed):
    assert viz_model.parse_seed(text)[0] == seed


# ----------------------------------------------------------------------------- the viz command
class FakeServer:
    """Stands in for the `solara run` child process: records how it was started."""

    started: list[tuple[list[str], dict[str, str]]] = []

    def __init__(self, cmd, env):
        FakeServer.started.append((cmd, env))

    def wait(self):
        return 0

    def poll(self):
        return 0


def test_viz_serves_the_page_on_loopback_with_the_scenario_in_the_environment(monkeypatch):
    FakeServer.started.clear()
    monkeypatch.setattr("aibubble.cli.serve.subprocess.Popen", FakeServer)
    result = CliRunner().invoke(viz, ["--scenario", "sudden-100x", "--port", "8799"])
    assert result.exit_code == 0, result.output
    cmd, env = FakeServer.started[0]
    assert cmd[1:5] == ["-m", "solara", "run", "aibubble.page.app"]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and cmd[cmd.index("--port") + 1] == "8799"
    assert "--no-check-version" in cmd and "--no-open" in cmd
    assert env[SCENARIO_ENV] == "sudden-100x"
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"


def test_viz_warns_when_told_to_listen_beyond_loopback(monkeypatch):
    monkeypatch.setattr("aibubble.cli.serve.subprocess.Popen", FakeServer)
    result = CliRunner().invoke(viz, ["--host", "0.0.0.0", "--expose"])
    assert result.exit_code == 0
    assert "anyone who can reach this machine" in result.output


def test_viz_stops_at_an_unknown_scenario_before_starting_a_server(monkeypatch):
    FakeServer.started.clear()
    monkeypatch.setattr("aibubble.cli.serve.subprocess.Popen", FakeServer)
    result = CliRunner().invoke(viz, ["--scenario", "no-such-scenario"])
    assert result.exit_code == 2
    assert "no-such-scenario" in result.output
    assert FakeServer.started == []


def test_viz_names_the_missing_extra_instead_of_serving_a_blank_page(monkeypatch):
    FakeServer.started.clear()
    monkeypatch.setattr("aibubble.cli.serve.subprocess.Popen", FakeServer)
    monkeypatch.setattr("aibubble.cli.serve.missing_packages", lambda: ["solara[assets]"])
    result = CliRunner().invoke(viz, [])
    assert result.exit_code == 1
    assert "pip install 'aibubble[viz]'" in result.output
    assert FakeServer.started == []
