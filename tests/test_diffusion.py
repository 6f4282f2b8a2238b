"""How a discovery propagates: its own lab first, others by publication or imitation."""

from __future__ import annotations

from aibubble import AIMarketModel
from aibubble.config import load_config


def shock(open_publication: bool, **overrides) -> tuple[AIMarketModel, int]:
    """A scripted 100x discovery with stochastic research switched off; returns its id."""
    cfg = load_config(
        "sudden-100x",
        {
            "open_publication": open_publication,
            "architects.discoveries_per_year": 0,
            "n_users": 1000,
            **overrides,
        },
    )
    model = AIMarketModel(config=cfg)
    for _ in range(cfg.run.steps):
        model.step()
    scripted = [d for d in model.diffusion.discoveries if d.cause == "scripted"]
    assert len(scripted) == 1 and model.diffusion.discoveries == scripted
    return model, scripted[0].id


def test_open_discovery_reaches_every_surviving_lab_within_the_diffusion_lag():
    model, did = shock(True, steps=48)
    d = model.config.discovery
    adopted = model.diffusion.adoption_steps(did)
    alive = {lab.index for lab in model.labs if lab.alive}
    assert alive <= set(adopted)
    assert adopted[d.lab] == d.jump_month + d.implementation_lag_months
    for lab, step in adopted.items():
        assert step <= d.jump_month + d.publication_lag_months + d.implementation_lag_months, lab
    assert all(lab.efficiency >= d.jump_size for lab in model.labs if lab.alive)


def test_proprietary_discovery_reaches_its_own_lab_first_and_others_only_by_imitation():
    model, did = shock(False, steps=120)
    d = model.config.discovery
    adopted = model.diffusion.adoption_steps(did)
    own = adopted.pop(d.lab)
    assert own == d.jump_month + d.implementation_lag_months
    assert adopted, "with a 5%/month hazard over 7 years some rival imitates"
    assert min(adopted.values()) > own
    events = model.events_frame()
    routes = events[(events.kind == "adoption") & (events.detail == f"id={did}")].cause
    assert set(routes) == {"own lab", "imitation"}


def test_without_imitation_a_proprietary_discovery_stays_with_its_lab():
    model, did = shock(False, steps=72, **{"discovery.imitation_hazard_per_month": 0.0})
    assert set(model.diffusion.adoption_steps(did)) == {model.config.discovery.lab}


def test_the_discoverer_gains_share_while_its_idea_is_proprietary():
    model, _ = shock(False, steps=60, **{"discovery.imitation_hazard_per_month": 0.0})
    frame = model.agent_frame()
    lab = model.labs[model.config.discovery.lab]
    share = frame[frame.agent_id == lab.unique_id].set_index("step")["market_share"]
    assert share.iloc[-1] > 1.5 * share.iloc[model.config.discovery.jump_month]
