"""The interactive page (Mesa SolaraViz): `aibubble viz` serves `aibubble.page.app`.

- app.py: the page itself, SolaraViz with the cards below;
- viz_model.py: the model behind it, as Reset builds it from the sidebar's controls;
- controls.py: where the run stands, and "Discover now";
- charts.py: the six live charts, drawn in background threads;
- tables.py: the event log and the tables of hyperscalers and labs;
- cards.py: what the cards share (height, update counter, number formatting).
"""
