"""The page's own control card: where the run stands, and "Discover now".

"Discover now" injects a 2x, 10x, 100x or custom discovery, open or proprietary, made by a chosen
lab (or an independent researcher), into the running model at the current month.
"""

from __future__ import annotations

import math

import solara
from mesa.visualization.utils import force_update

from aibubble import measures
from aibubble.page.cards import calendar_month, counter, pct
from aibubble.page.viz_model import VizMarket

# Discovery sizes offered by "Discover now", in x efficiency.
SIZES = {"2x": 2.0, "10x": 10.0, "100x": 100.0}
CUSTOM = "custom"
MAX_GAIN = 1e4  # DiscoveryConfig.jump_size's upper bound
INDEPENDENT = "independent researcher"


def effective_parameters(model: VizMarket) -> str:
    """One line: the headline values the running model actually uses."""
    cfg = model.config
    d = cfg.discovery
    jump = (
        f"×{d.jump_size:g} {'open' if d.open_publication else 'proprietary'} discovery "
        f"at month {d.jump_month}"
        if d.jump_size > 1
        else "no scripted discovery"
    )
    return (
        f"{jump}; demand elasticity {cfg.users.demand_elasticity:g}; "
        f"forecast optimism {cfg.hyperscalers.forecast_optimism:g}; "
        f"{cfg.users.n_segments:,} user segments; seed {model.seed}"
    )


@solara.component
def RunStatus(model: VizMarket):
    """Where the run stands: month, bubble or not, the two ingredients, what is in force."""
    counter()
    m = model.metrics
    bubble = bool(m.get("glut"))
    spot = "spot_price_usd_per_gpu_hour"
    with solara.Column(gap="2px", classes=["aibubble-status"]):
        colour = "#c62828" if bubble else "#2e7d32"
        solara.HTML(
            tag="div",
            unsafe_innerHTML=(
                f"<b>Month {model.steps}</b> of {model.config.run.steps} "
                f"({calendar_month(model, model.steps)}) · "
                f"<b style='color:{colour}'>{'GLUT' if bubble else 'no glut'}</b> · "
                f"{measures.label('utilization')} {pct(m['utilization'])} · "
                f"spot ${m[spot]:.2f} {measures.unit(spot).removeprefix('USD ')} · "
                f"frontier ×{m['frontier_efficiency']:.3g} · "
                f"{measures.label('labs_alive')} {m['labs_alive']}"
            ),
            classes=["aibubble-now"],
        )
        moved = ", ".join(model.moved) if model.moved else "none"
        solara.Text(
            f"{model.scenario_name}: {effective_parameters(model)} (set by sliders: {moved})",
            style={"font-size": "11px", "color": "#555"},
        )
        if model.seed_note:
            solara.Warning(model.seed_note, dense=True)
        if not model.running:
            solara.Info("The run reached its horizon: press Reset to start again.", dense=True)


def _lab_choice(label: str) -> int | None:
    return None if label == INDEPENDENT else int(label.split()[-1])


def parse_gain(text: str) -> float | None:
    """The custom size typed by a person, or None if it is not a finite number above 1 and at
    most MAX_GAIN. The field holds text, not a float: a NaN in a reactive float never equals
    itself, so every render would count as a change and the page would re-render forever."""
    try:
        gain = float(str(text).strip())
    except ValueError:
        return None
    return gain if math.isfinite(gain) and 1.0 < gain <= MAX_GAIN else None


@solara.component
def DiscoverNow(model: VizMarket):
    """Inject a discovery into the running model at the current month.

    The choices are reactive variables, and the click reads their values then: a control's change
    takes effect when it is made, even if a view's background redraw still holds the render and
    the button's handler is from the render before.
    """
    counter()
    size = solara.use_reactive("100x")
    custom = solara.use_reactive("1000")
    is_open = solara.use_reactive(True)
    lab_label = solara.use_reactive("lab 0")
    message, set_message = solara.use_state(("", 0))  # (text, id of the model it is about)

    def choices() -> list[str]:
        return [*(f"lab {lab.index}" for lab in model.labs if lab.alive), INDEPENDENT]

    def chosen_lab() -> str:
        options = choices()
        return lab_label.value if lab_label.value in options else options[0]

    def chosen_gain() -> float | None:
        return SIZES[size.value] if size.value in SIZES else parse_gain(custom.value)

    independent = chosen_lab() == INDEPENDENT
    valid = chosen_gain() is not None
    d = model.config.discovery

    def discover() -> None:
        label, gain = chosen_lab(), chosen_gain()
        if gain is None:
            return
        lab = _lab_choice(label)
        publish = True if lab is None else is_open.value  # independents always publish
        model.discover_now(float(gain), publish, lab)
        now = model.steps
        own = f"{label} adopts it in month {now + d.implementation_lag_months}; " if lab is not None else ""
        if publish:
            rest = f"other labs in month {now + d.publication_lag_months + d.implementation_lag_months}"
        else:
            rest = f"rivals copy it at {100 * d.imitation_hazard_per_month:.0f}% a month, then implement"
        text = f"×{gain:g} {'open' if publish else 'proprietary'} discovery by {label} in month {now}: "
        set_message((text + own + rest + ".", id(model)))
        force_update()

    with solara.Column(gap="4px", classes=["aibubble-discover"]):
        RunStatus(model)
        solara.HTML(tag="div", unsafe_innerHTML="<b>Discover now</b>: a new architecture, this month")
        solara.ToggleButtonsSingle(value=size, values=[*SIZES, CUSTOM], dense=True)
        if size.value == CUSTOM:
            solara.InputText("custom size, x efficiency (>1)", value=custom)
        with solara.Row(gap="12px"):
            solara.Select("made by", value=chosen_lab(), values=choices(), on_value=lab_label.set)
            solara.Checkbox(
                label="published openly" if not independent else "published openly (independents always do)",
                value=True if independent else is_open.value,
                on_value=is_open.set,
                disabled=independent,
            )
        solara.Button(
            "Discover now",
            color="error",
            on_click=discover,
            disabled=not valid or not model.running,
        )
        if not valid:
            solara.Error(
                f"size must be a number above 1 and at most {MAX_GAIN:g}, not {custom.value!r}", dense=True
            )
        if message[0] and message[1] == id(model):  # not once Reset made a new model
            solara.Success(message[0], dense=True)
