"""The interactive page (Mesa SolaraViz): `aibubble viz` serves `aibubble.page.app`.

- app.py: the page itself, SolaraViz with the cards below;
- viz_model.py: the model behind it, as Reset builds it from the sidebar's controls, and the
  same run without "Discover now" beside it;
- controls.py: where the run stands, and "Discover now";
- charts.py: the six live charts, Vega-Lite specs whose data is replaced every month;
- vega.py: the widget that draws them in the browser;
- analyst.py: the finance indicators, and the run's tables to download;
- tables.py: the event log and the tables of hyperscalers and labs;
- cards.py: what the cards share (height, update counter, number formatting).
"""
