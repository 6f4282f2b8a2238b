"""A Vega-Lite chart drawn in the browser whose data is replaced in place every month.

Rendering a chart on the server (matplotlib to PNG) costs 0.1-0.3 s a chart and a month; the
browser, given a Vega-Lite spec once, redraws a chart from new data in milliseconds. A chart is a
`VegaChart` widget with two traits of JSON text: `spec`, which changes when the chart's shape
changes (a log axis, an overlay), and `update`, every month. The update holds

- `datasets`: named data sources of the spec, as columns (see `column`), replaced wholesale;
- `signals`: values of the spec's parameters (a title that says "GLUT NOW", a log axis' ticks);
- `stamp`: attributes set on the chart once it shows the update (`data-month`, `data-events`),
  so that tests wait for exactly the month they check;
- `shape`: the `usermeta.shape` of the spec the update is for: the stamp waits for that spec.

They are text, not dicts, because solara's renderer walks every value of a dict it is given
(looking for elements): a month's data would cost it ~0.1 s.

Vega and Vega-Lite come from the solara-assets package through solara's own asset route
(`/_solara/cdn/...`), by exact version: solara's FigureAltair asks for `vega@5`, which is not in
the package, so its server would try to fetch it from the internet.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ipyvuetify as v
import numpy as np
import pandas as pd
import solara.server.settings
import traitlets

# The builds solara-assets 1.58.2 ships (share/solara/cdn/ in the environment).
LIBRARIES = {
    "vega": "vega@5.21.0/build/vega.min.js",
    "vega-lite": "vega-lite@5.2.0/build/vega-lite.min.js",
}
REQUIREJS = "requirejs@2.3.6/require.js"

TEMPLATE = """
<template>
  <div ref="root" class="aibubble-chart" :data-chart="name"><div ref="plot"></div></div>
</template>
<script>
module.exports = {
  mounted() {
    this.queue = Promise.resolve();
    this.view = null;
    this.enqueue(() => this.embed());
  },
  destroyed() {
    if (this.view) this.view.finalize();
  },
  watch: {
    spec() { this.enqueue(() => this.embed()); },
    update() { this.enqueue(() => this.apply()); },
  },
  methods: {
    enqueue(task) {
      // one at a time, in order: a new spec waits for the update being drawn, and vice versa
      this.queue = this.queue.then(task).catch((error) => {
        console.error("aibubble chart " + this.name, error);
        this.$refs.root.setAttribute("data-error", String(error));
      });
    },
    async embed() {
      // compiled and built here rather than by vega-embed, so that the first run already has
      // the data (an empty log axis has no extent)
      const [vega, vegaLite] = await this.libraries();
      const spec = JSON.parse(this.spec);
      if (!spec.usermeta) return;  // a widget just made: its spec follows
      if (this.view) this.view.finalize();
      const compiled = vegaLite.compile(spec).spec;
      this.view = new vega.View(vega.parse(compiled), {
        renderer: "svg",
        container: this.$refs.plot,
        hover: false,
      });
      this.shape = spec.usermeta.shape;
      this.sources = new Set((compiled.data || []).map((d) => d.name));
      this.signals = new Set((compiled.signals || []).map((d) => d.name));
      await this.apply();
    },
    async apply() {
      if (!this.view) return;  // embed() draws the newest update once the chart exists
      const update = JSON.parse(this.update);
      // an update may arrive before the spec that draws it (an overlay's data, a log axis'
      // ticks): what the chart's spec does not have yet waits for it
      for (const [name, columns] of Object.entries(update.datasets || {})) {
        if (this.sources.has(name)) this.view.data(name, this.rows(columns));
      }
      for (const [name, value] of Object.entries(update.signals || {})) {
        if (this.signals.has(name)) this.view.signal(name, value);
      }
      await this.view.runAsync();
      if (update.shape !== this.shape) return;  // its spec is on its way: stamp once drawn with it
      for (const [key, value] of Object.entries(update.stamp || {})) {
        this.$refs.root.setAttribute("data-" + key, String(value));
      }
      this.$refs.root.removeAttribute("data-error");
    },
    rows(columns) {
      const names = Object.keys(columns);
      const n = names.length ? columns[names[0]].length : 0;
      const out = new Array(n);
      for (let i = 0; i < n; i++) {
        const row = {};
        for (const name of names) row[name] = columns[name][i];
        out[i] = row;
      }
      return out;
    },
    libraries() {
      if (!window.aibubbleVega) {
        const cdn = this.cdn();
        const paths = JSON.parse(this.libraries_json);
        window.aibubbleVega = new Promise((resolve, reject) => {
          const load = () => {
            const map = {};
            for (const [name, path] of Object.entries(paths)) map[name] = cdn + "/" + path;
            window.require.config({map: {"*": map}});
            window.require(["vega", "vega-lite"], (vega, vegaLite) => resolve([vega, vegaLite]), reject);
          };
          if (window.requirejs) return load();
          const script = document.createElement("script");
          script.src = cdn + "/" + this.requirejs;
          script.onload = load;
          script.onerror = reject;
          document.head.appendChild(script);
        });
      }
      return window.aibubbleVega;
    },
    cdn() {
      if (window.solara && window.solara.cdn) return window.solara.cdn;
      let base = document.body.dataset.baseUrl || document.baseURI;
      return (base.endsWith("/") ? base : base + "/") + "_solara/cdn";
    },
  },
};
</script>
<style>
.aibubble-chart svg { max-width: 100%; height: auto; display: block; margin: auto; }
</style>
"""


class VegaChart(v.VuetifyTemplate):
    """One chart: a Vega-Lite `spec`, drawn in the browser, and the month's `update` of its data."""

    template = traitlets.Unicode(TEMPLATE).tag(sync=True)
    name = traitlets.Unicode("").tag(sync=True)
    spec = traitlets.Unicode("{}").tag(sync=True)
    update = traitlets.Unicode("{}").tag(sync=True)
    libraries_json = traitlets.Unicode(json.dumps(LIBRARIES)).tag(sync=True)
    requirejs = traitlets.Unicode(REQUIREJS).tag(sync=True)


def asset_files() -> list[Path]:
    """The files a chart loads, where solara's server finds them (else it would fetch them from
    the internet): the assets folder that solara-assets installs."""
    cdn = Path(solara.server.settings.assets.proxy_cache_dir)
    return [cdn / path for path in (*LIBRARIES.values(), REQUIREJS)]


def column(values: Iterable[Any] | pd.Series | np.ndarray) -> list[Any]:
    """Values JSON can carry: NaN and infinities (JSON has neither) become null, a gap."""
    out: list[Any] = []
    for value in np.asarray(values).tolist():
        out.append(None if isinstance(value, float) and not math.isfinite(value) else value)
    return out


def text(value: Any) -> str:
    """JSON for a chart's `spec` or `update`; NaN has no JSON (`column` turns it into null)."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"))
