"""The interactive page (Mesa SolaraViz): `aibubble viz` serves `model.page.app`."""
