"""`aibubble report`: a small report regenerates byte for byte and says what it found."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from aibubble.cli.findings import report

TINY = ["--replicates", "1", "--n-users", "300", "--steps", "72", "--grid-levels", "2"]
REPO = Path(__file__).resolve().parent.parent
SHIPPED = ["--calibration", "docs/calibration"]  # read from the checkout's root


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_report_is_deterministic_and_complete(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        result = CliRunner().invoke(report, [*TINY, *SHIPPED, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "checks pass" in result.output
        # its size before it starts, and its stages as they come (to stderr, for people)
        assert (
            "report: scenario runs: 6 scenarios, 3 glut variants and 10 capability-share settings "
            "x 1 seeds = 19 runs, 3 of them with a paired counterfactual" in result.stderr
        )
        assert "report: phase sweep: 4 runs" in result.stderr
    first, second = _files(a), _files(b)
    assert set(first) == {
        "README.md",
        "phase-jump-elasticity.png",
        "stylised-facts.png",
        "counterfactual-effects.png",
        "phase-increment.png",
        "answer-by-draw.png",  # the calibration's predict.png
    }
    for name in first:
        assert first[name] == second[name], f"{name} differs between regenerations"
    text = first["README.md"].decode()
    # the page leads with the answer over the posterior and the out-of-sample checks (issue 15)
    lead = text.index("## The answer over the calibrated posterior")
    assert lead < text.index("## Scenarios")
    assert "| open 100x, 2027 | 0.84 [0.79, 0.89] |" in text[lead:]
    assert "| capex_2026 | 6.5e+11 USD (2026) |" in text[lead:]
    assert "over the calibrated posterior, P(bubble) is none: 0.68 [0.61, 0.74]" in text
    assert "What decides it: `users.capability_usefulness_elasticity`" in text[lead:]
    assert "](answer-by-draw.png)" in text[lead : text.index("## Scenarios")]
    for heading in (
        "## Scenarios",
        "### How much of P(bubble) is a threshold",
        "## Paired counterfactuals",
        "## The analyst's view: does the build-out pay?",
        "## Phase diagram",
        "## What sets the length of a glut",
        "## What an efficiency gain is spent on",
        "## Stylised facts",
        "## Calibration",
        "## What the model does not reproduce",
    ):
        assert heading in text
    assert (
        "aibubble report --replicates 1 --n-users 300 --steps 72 --grid-levels 2 "
        "--calibration docs/calibration" in text
    )
    assert "reduced from the shipped spec" in text
    assert str(tmp_path) not in text  # no paths in the page
    assert "| capability share | baseline P(glut) | baseline P(bubble) | sudden-100x P(glut) |" in text
    assert all(f"\n| {share} | " in text for share in ("0", "0.5", "0.75", "0.9", "1"))
    assert "PASS" in text and "FAIL" in text
    assert "P(bubble) with the discovery minus without" not in text  # the figure's title, not prose
    assert "0.00 [0.00, 0.79]" in text  # one seed: a Wilson interval, not a bare share
    assert b"Matplotlib" not in first["stylised-facts.png"]  # no version metadata in the PNGs


def test_a_report_on_an_unfinished_calibration_stops_before_any_run(tmp_path):
    folder = tmp_path / "cal"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"status": "complete"}')
    out = tmp_path / "findings"
    result = CliRunner().invoke(report, [*TINY, "--calibration", str(folder), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {folder}: no predict.csv; run `aibubble predict {folder}` first"
    (folder / "manifest.json").write_text('{"status": "running"}')
    result = CliRunner().invoke(report, [*TINY, "--calibration", str(folder), "--out", str(out)])
    assert "the calibration is running" in result.output and result.exit_code == 2
    assert not out.exists()


@pytest.mark.findings
def test_committed_findings_match_a_fresh_regeneration(tmp_path, monkeypatch):
    """docs/findings/README.md is what the current code prints (figures are not compared:
    their bytes depend on the installed fonts and matplotlib)."""
    monkeypatch.chdir(REPO)
    out = tmp_path / "findings"
    result = CliRunner().invoke(report, [*SHIPPED, "--out", str(out)])  # the default: 50 seeds
    assert result.exit_code == 0, result.output
    committed = REPO / "docs" / "findings" / "README.md"
    assert (out / "README.md").read_text() == committed.read_text(), "regenerate: aibubble report"
