"""`aibubble report`: a small report regenerates byte for byte and says what it found."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from aibubble.cli.findings import report

TINY = ["--replicates", "1", "--n-users", "300", "--steps", "72", "--grid-levels", "2"]


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_report_is_deterministic_and_complete(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        result = CliRunner().invoke(report, [*TINY, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "checks pass" in result.output
        # its size before it starts, and its stages as they come (to stderr, for people)
        assert (
            "report: scenario runs: 6 scenarios and 3 glut variants x 1 seeds = 9 runs, "
            "3 of them with a paired counterfactual" in result.stderr
        )
        assert "report: phase sweep: 4 runs" in result.stderr
    first, second = _files(a), _files(b)
    assert set(first) == {
        "README.md",
        "phase-jump-elasticity.png",
        "stylised-facts.png",
        "counterfactual-effects.png",
        "phase-increment.png",
    }
    for name in first:
        assert first[name] == second[name], f"{name} differs between regenerations"
    text = first["README.md"].decode()
    for heading in (
        "## Scenarios",
        "### How much of P(bubble) is a threshold",
        "## Paired counterfactuals",
        "## The analyst's view: does the build-out pay?",
        "## Phase diagram",
        "## What sets the length of a glut",
        "## Stylised facts",
        "## Calibration",
        "## What the model does not reproduce",
    ):
        assert heading in text
    assert "aibubble report --replicates 1 --n-users 300 --steps 72 --grid-levels 2" in text
    assert "reduced from the shipped spec" in text
    assert str(tmp_path) not in text  # no paths in the page
    assert "PASS" in text and "FAIL" in text
    assert "P(bubble) with the discovery minus without" not in text  # the figure's title, not prose
    assert "0.00 [0.00, 0.79]" in text  # one seed: a Wilson interval, not a bare share
    assert b"Matplotlib" not in first["stylised-facts.png"]  # no version metadata in the PNGs


def test_committed_findings_match_a_fresh_regeneration(tmp_path):
    """docs/findings/README.md is what the current code prints (figures are not compared:
    their bytes depend on the installed fonts and matplotlib)."""
    out = tmp_path / "findings"
    result = CliRunner().invoke(report, ["--out", str(out)])  # the default: 50 seeds
    assert result.exit_code == 0, result.output
    committed = Path(__file__).resolve().parent.parent / "docs" / "findings" / "README.md"
    assert (out / "README.md").read_text() == committed.read_text(), "regenerate: aibubble report"
