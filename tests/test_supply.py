"""The supply side in the full model: commitments, the vendor, defaults, accounting by cause.

Each test runs `AIMarketModel` itself (not one agent) through the shipped scenarios, so the
rules are checked where they interact: firm orders are delivered after a 100x discovery, the
vendor cuts production and its price, a debt-financed builder can default with its losses
booked, and write-offs add up by cause.
"""

from __future__ import annotations

import numpy as np
import pytest

from aibubble import AIMarketModel
from aibubble.agents import Neocloud

SHOCK = 36  # sudden-100x's discovery month


@pytest.fixture(scope="module")
def shock() -> tuple[AIMarketModel, object]:
    model = AIMarketModel(scenario="sudden-100x", rng=1, n_users=2000)
    model.run_model()
    return model, model.model_frame()


def test_after_a_100x_discovery_firm_orders_are_still_delivered(shock):
    model, df = shock
    after = df.loc[SHOCK + 1 : SHOCK + 12]
    firm_before = df.loc[SHOCK, "gpu_firm_backlog_h100e"]
    assert firm_before > 0
    # the builders cancel what they may, yet GPUs keep arriving: the firm part is delivered
    # as fast as the vendor makes GPUs
    assert after["gpu_cancellations_h100e"].sum() > 0
    made = after["gpu_production_h100e_per_month"].sum()
    assert after["gpu_deliveries_h100e"].sum() >= 0.95 * min(firm_before, made)
    assert (after["gpu_firm_backlog_h100e"] <= after["gpu_backlog_h100e"] + 1e-6).all()


def test_the_vendor_cuts_production_and_its_price_when_orders_fall(shock):
    model, df = shock
    production = df["gpu_production_h100e_per_month"].to_numpy()
    window = production[SHOCK : SHOCK + 18]
    assert window.min() < window[0]  # cut after the discovery
    cfg = model.config.gpu_market
    list_price = cfg.price_usd_per_h100e / np.array([model.vendor.hardware_performance(t) for t in df.index])
    ratio = (df["gpu_price_usd_per_h100e"] / list_price).to_numpy()
    assert ratio[SHOCK : SHOCK + 18].min() < 1.0  # a discount, as the vendor's margin falls
    assert ratio.min() >= 1 - cfg.max_price_discount - 1e-9
    assert ratio.max() <= 1 + cfg.max_price_premium + 1e-9


def test_write_offs_add_up_by_cause_and_defaults_book_their_losses(shock):
    model, df = shock
    causes = [
        "write_offs_failure_usd",
        "write_offs_retirement_usd",
        "impairment_usd",
        "write_offs_default_usd",
    ]
    assert np.allclose(df[causes].sum(axis=1), df["write_downs_usd"], rtol=1e-9, atol=1e-3)
    summary = model.summary()
    total = sum(summary[k] for k in ["write_offs_failure_usd", "write_offs_retirement_usd", "impairment_usd"])
    assert summary["write_offs_usd"] == pytest.approx(total + summary["write_offs_default_usd"])
    defaults = model.events_frame().query("kind == 'default'")
    assert len(defaults) == summary["neocloud_defaults"]
    assert df["default_losses_usd"].sum() == pytest.approx(summary["default_losses_usd"])
    assert (defaults["agent_type"] == "neocloud").all()


def test_a_debt_financed_builder_can_default_after_a_100x_discovery():
    """Neoclouds carry GPU-backed debt and no core business: in a glut their cash and their
    collateral shrink together. Over a few seeds at least one defaults, and every default
    writes its fleet down to fair value and books the lenders' loss."""
    found = []
    for seed in (1, 2, 3):
        model = AIMarketModel(scenario="sudden-100x", rng=seed, n_users=2000)
        model.run_model()
        neoclouds = [hs for hs in model.hyperscalers if isinstance(hs, Neocloud)]
        assert len(neoclouds) == model.config.neoclouds.count
        found.append(sum(hs.defaults for hs in neoclouds))
        assert all(hs.debt >= 0 and hs.cash >= -1e-6 for hs in neoclouds)
    assert sum(found) >= 1, found


def test_hyperscalers_never_default_and_neoclouds_get_no_core_funding():
    model = AIMarketModel(scenario="baseline", rng=2, n_users=2000, steps=24)
    model.run_model()
    assert not any(getattr(hs, "defaults", 0) for hs in model.hyperscalers if not isinstance(hs, Neocloud))
    assert all(hs.capital_share == 0.0 for hs in model.hyperscalers if isinstance(hs, Neocloud))
    assert sum(hs.capital_share for hs in model.hyperscalers) == pytest.approx(1.0)
