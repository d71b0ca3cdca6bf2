/* clsm-geo "what if" planner (MIT): tick QPV, EPCI or communes, add their units to a new or an existing council,
   recompute the headline figures and the QPV statuses with the engine's rules (clsm_geo.coverage.qpv_statuses,
   mirrored by clsm_geo.maps.planner.evaluate), export registry rows. Data and words are written by clsm-geo
   (see clsm_geo/maps/planner.py for the layout); every text is inserted with textContent. */
(function (L) {
  "use strict";
  var U_CODE = 0, U_LABEL = 1, U_COVERED = 2, U_PARTLY = 3, U_EPCI = 4, U_CANDIDATE = 5;
  var Q_CODE = 0, Q_NAME = 1, Q_GEOM = 2, Q_OWN = 3, Q_W = 4, Q_PAIRS = 5, Q_STATUS = 6, Q_MINE = 7, Q_ADDS = 8;
  var SHOWN = 60;  /* items listed per group before the filter must be refined */

  function fold(text) {
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  function fill(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (all, key) { return key in values ? values[key] : all; });
  }
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c];
    });
  }

  /* Statuses (indices in d.statuses) and figures for the units vector x (0/1 per unit): the engine's rules. */
  function evaluate(d, x) {
    var cov = d.thresholds[0], par = d.thresholds[1], units = d.units;
    var xc = new Float64Array(units.length);
    for (var i = 0; i < units.length; i++) { xc[i] = x[i] > 0 ? 1 : (units[i][U_PARTLY] ? 0.5 : 0); }
    var statuses = new Array(d.qpv.length), shares = new Array(d.qpv.length), covered = 0, mine = 0, mineCovered = 0;
    for (var q = 0; q < d.qpv.length; q++) {
      var row = d.qpv[q], st, share;
      if (row[Q_GEOM]) {
        var s = 0, w = row[Q_W];
        for (var k = 0; k < w.length; k += 2) { s += w[k + 1] * x[w[k]]; }
        s = Math.min(Math.max(s, 0), 1);
        s = s + (1 - s) * row[Q_OWN];
        st = s >= cov ? 0 : (s > par ? 1 : 2);
        share = s;
      } else {
        var pairs = row[Q_PAIRS], full = 0, some = 0, sum = 0;
        for (var p = 0; p < pairs.length; p++) {
          var f = 0;
          for (var j = 0; j < pairs[p].length; j++) { f += xc[pairs[p][j]]; }
          f = f / Math.max(pairs[p].length, 1);
          if (f >= 1) { full++; } else if (f > 0) { some++; }
          sum += f;
        }
        st = pairs.length > 0 && full === pairs.length ? 0 : (full > 0 ? 1 : (some > 0 ? 3 : 2));
        share = st === 3 ? null : sum / Math.max(pairs.length, 1);
      }
      statuses[q] = st;
      shares[q] = share;
      if (st <= 1) { covered++; }
      if (row[Q_MINE]) { mine++; if (st <= 1) { mineCovered++; } }
    }
    return { statuses: statuses, shares: shares, covered: covered, total: d.qpv.length, mine: mine,
             mineCovered: mineCovered };
  }

  function Formatter(f) {
    this.int = function (n) {
      var s = String(Math.abs(Math.round(n))), out = "";
      while (s.length > 3) { out = f.group + s.slice(-3) + out; s = s.slice(0, -3); }
      return (n < 0 ? "\u2212" : "") + s + out;
    };
    this.dec = function (v, digits) {
      var s = Math.abs(v).toFixed(digits).split(".");
      return (v < 0 && Number(s.join(".")) !== 0 ? "\u2212" : "") + this.int(Number(s[0])) +
        (digits ? f.decimal + s[1] : "");
    };
    this.pct = function (share, digits) { return f.percent.replace("{n}", this.dec(share * 100, digits)); };
    this.signed = function (text, v) { return (v > 0 ? "+" : "") + text; };
  }

  L.Control.ClsmPlanner = L.Control.extend({
    options: { position: "bottomleft" },
    initialize: function (data, words, options) {
      L.setOptions(this, options);
      this._d = data;
      this._w = words;
      this._fmt = new Formatter(data.format);
      this._councils = [];      /* {key, isNew, id, name, row, items: [item keys]} */
      this._assigned = {};      /* item key -> council key */
      this._items = this._buildItems();
      this._byKey = {};
      var self = this;
      this._items.forEach(function (it) { self._byKey[it.key] = it; });
      this._newCount = 0;
    },
    _buildItems: function () {
      var d = this._d, w = this._w, items = [];
      var labels = d.labels;
      d.qpv.forEach(function (q, i) {
        if (q[Q_MINE] && q[Q_STATUS] !== 0 && q[Q_ADDS].length) {
          var where = q[Q_ADDS].map(function (u) { return d.units[u][U_LABEL]; }).join(", ");
          items.push({ key: "q:" + q[Q_CODE], group: 0, label: q[Q_NAME] + " (" + q[Q_CODE] + ")",
                       detail: labels[q[Q_STATUS]] + ", " + where, units: q[Q_ADDS], epci: null, qpv: i });
        }
      });
      d.epci.forEach(function (e) {
        items.push({ key: "e:" + e[0], group: 1, label: e[1] + " (" + e[0] + ")", detail: "", units: e[2],
                     epci: e[0] });
      });
      d.units.forEach(function (u, i) {
        if (u[U_CANDIDATE]) {
          items.push({ key: "u:" + u[U_CODE], group: 2, label: u[U_LABEL] + " (" + u[U_CODE] + ")", detail: "",
                       units: [i], epci: null });
        }
      });
      items.forEach(function (it) { it.fold = fold(it.label + " " + it.detail); });
      return items;
    },
    onAdd: function (map) {
      var w = this._w, d = this._d, self = this;
      this._map = map;
      var div = L.DomUtil.create("div", "clsm-planner leaflet-control");
      div.setAttribute("role", "region");
      div.setAttribute("aria-label", w.title);
      var toggle = L.DomUtil.create("button", "clsm-planner-toggle", div);
      toggle.type = "button";
      var body = L.DomUtil.create("div", "clsm-planner-body", div);
      body.id = "clsm-planner-body-" + L.stamp(this);
      toggle.setAttribute("aria-controls", body.id);
      var el = function (tag, cls, parent, text) {
        var e = L.DomUtil.create(tag, cls || "", parent);
        if (text !== undefined) { e.textContent = text; }
        return e;
      };
      el("h4", "", body, w.title);
      el("p", "clsm-planner-note", body, w.intro);
      var figures = el("dl", "clsm-planner-figures", body);
      figures.setAttribute("aria-live", "polite");
      this._figures = {};
      var figure = function (key, label) {
        el("dt", "", figures, label);
        var dd = el("dd", "", figures);
        dd.setAttribute("data-key", key);
        self._figures[key] = dd;
      };
      figure("councils_active", w.councils_active);
      figure("qpv_covered", w.qpv_covered);
      figure("qpv_covered_share", w.share);
      if (d.region) { figure("region_qpv_covered", fill(w.region, { region: d.region })); }
      this._empty = el("p", "clsm-planner-note", body, w.selection_empty);

      var id = body.id;
      var label = el("label", "", body, w.council);
      label.htmlFor = id + "-council";
      var row = el("div", "clsm-planner-row", body);
      var select = el("select", "clsm-planner-council", row);
      select.id = id + "-council";
      this._select = select;
      this._newGroup = el("optgroup", "", select);
      this._newGroup.label = fill(w.new_group, { year: d.year });
      if (d.councils.length) {
        var existing = el("optgroup", "", select);
        existing.label = w.existing_group;
        d.councils.forEach(function (c) {
          var council = { key: "c:" + c[0], isNew: false, id: c[0], name: c[1], row: c, items: [] };
          self._councils.push(council);
          var option = el("option", "", existing, c[1] + " (" + c[0] + ")");
          option.value = council.key;
        });
      }
      var add = el("button", "clsm-planner-new", row, "+");
      add.type = "button";
      add.title = w.new_council;
      add.setAttribute("aria-label", w.new_council);
      var nameLabel = el("label", "", body, w.name);
      nameLabel.htmlFor = id + "-name";
      var name = el("input", "clsm-planner-name", body);
      name.id = id + "-name";
      name.type = "text";
      this._name = name;
      this._nameLabel = nameLabel;
      select.addEventListener("change", function () { self._showName(); });
      add.addEventListener("click", function () { self._addNew(); select.focus(); });
      name.addEventListener("input", function () {
        var c = self._current();
        if (c && c.isNew) {
          c.name = name.value;
          c.option.textContent = name.value + " (" + c.id + ")";
          self._refresh();
        }
      });

      var filter = el("input", "clsm-planner-filter", body);
      filter.type = "search";
      filter.placeholder = w.filter;
      filter.setAttribute("aria-label", w.filter);
      this._filter = filter;
      filter.addEventListener("input", function () { self._list(); });
      this._listBox = el("div", "clsm-planner-list", body);

      var exportLabel = el("label", "", body, w.export);
      exportLabel.htmlFor = id + "-csv";
      el("p", "clsm-planner-note", body, w.export_note);
      var csv = el("textarea", "clsm-planner-csv", body);
      csv.id = id + "-csv";
      csv.readOnly = true;
      csv.rows = 4;
      this._csv = csv;
      var actions = el("div", "clsm-planner-row", body);
      var download = el("a", "clsm-planner-download", actions, w.download);
      download.setAttribute("download", d.file);
      this._download = download;
      var clear = el("button", "clsm-planner-clear", actions, w.clear);
      clear.type = "button";
      clear.addEventListener("click", function () { self.clear(); });

      var fit = function () {  /* never reach up over the controls at the top left */
        var box = map.getContainer().getBoundingClientRect();
        var corner = map.getContainer().querySelector(".leaflet-top.leaflet-left");
        var used = corner ? corner.getBoundingClientRect().bottom - box.top : 0;
        div.style.maxHeight = Math.max(120, box.height - used - 40) + "px";  /* CSSOM: allowed by a strict CSP */
      };
      var alone = function () {  /* on phones, one panel at a time: fold the legend */
        if (map.getSize().x < 600) {
          var legend = map.getContainer().querySelector(".clsm-legend:not(.clsm-legend-folded) .clsm-legend-toggle");
          if (legend) { legend.click(); }
        }
      };
      map.on("resize", function () {
        if (!div.classList.contains("clsm-planner-folded")) { fit(); alone(); }
      });
      var show = function (folded) {
        if (!folded) { fit(); alone(); }
        div.classList.toggle("clsm-planner-folded", folded);
        toggle.textContent = folded ? w.toggle : "\u2013";
        toggle.title = folded ? w.unfold : w.fold;
        toggle.setAttribute("aria-label", toggle.title);
        toggle.setAttribute("aria-expanded", folded ? "false" : "true");
      };
      show(true);
      toggle.addEventListener("click", function () { show(!div.classList.contains("clsm-planner-folded")); });
      this._show = show;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);

      this._addNew();
      this._layers = this._qpvLayers();
      this._base = this._compute();
      this._checkBase();
      this._list();
      this._refresh();
      return div;
    },
    unfold: function () { this._show(false); },
    _addNew: function () {
      this._newCount += 1;
      var n = this._newCount;
      var council = { key: "n:" + n, isNew: true, id: this._d.new_id + n, name: fill(this._w.new_name, { n: n }),
                      row: null, items: [] };
      var option = L.DomUtil.create("option", "", this._newGroup);
      option.value = council.key;
      option.textContent = council.name + " (" + council.id + ")";
      council.option = option;
      this._councils.push(council);
      this._select.value = council.key;
      this._showName();
    },
    _current: function () {
      var key = this._select.value;
      for (var i = 0; i < this._councils.length; i++) { if (this._councils[i].key === key) { return this._councils[i]; } }
      return null;
    },
    _council: function (key) {
      for (var i = 0; i < this._councils.length; i++) { if (this._councils[i].key === key) { return this._councils[i]; } }
      return null;
    },
    _showName: function () {
      var c = this._current(), isNew = !!(c && c.isNew);
      this._name.hidden = !isNew;
      this._nameLabel.hidden = !isNew;
      if (isNew) { this._name.value = c.name; }
    },
    /* Tick (on) or untick an item: it joins the council selected now, or leaves its council. */
    toggle: function (key, on) {
      var item = this._byKey[key];
      if (!item) { return; }
      var was = this._assigned[key];
      if (was) {
        var old = this._council(was);
        old.items = old.items.filter(function (k) { return k !== key; });
        delete this._assigned[key];
      }
      if (on) {
        var c = this._current();
        c.items.push(key);
        this._assigned[key] = c.key;
      }
      this._list();
      this._refresh();
    },
    clear: function () {
      this._councils.forEach(function (c) { c.items = []; });
      this._assigned = {};
      this._list();
      this._refresh();
    },
    _list: function () {
      var box = this._listBox, w = this._w, self = this;
      box.textContent = "";
      var q = fold(this._filter.value).trim();
      var titles = [w.group_qpv, w.group_epci, w.group_unit];
      var any = false;
      for (var g = 0; g < 3; g++) {
        var matching = this._items.filter(function (it) {
          return it.group === g && (!q || it.fold.indexOf(q) >= 0 || self._assigned[it.key]);
        });
        if (!matching.length) { continue; }
        any = true;
        matching.sort(function (a, b) { return (self._assigned[b.key] ? 1 : 0) - (self._assigned[a.key] ? 1 : 0); });
        var fieldset = L.DomUtil.create("fieldset", "", box);
        L.DomUtil.create("legend", "", fieldset).textContent = titles[g] + " (" + this._fmt.int(matching.length) + ")";
        var ul = L.DomUtil.create("ul", "", fieldset);
        matching.slice(0, SHOWN).forEach(function (it) {
          var li = L.DomUtil.create("li", "", ul);
          var box_ = L.DomUtil.create("input", "", li);
          box_.type = "checkbox";
          box_.id = "clsm-planner-" + L.stamp(self) + "-" + it.key.replace(/[^A-Za-z0-9]/g, "_");
          box_.setAttribute("data-key", it.key);
          box_.checked = !!self._assigned[it.key];
          var lab = L.DomUtil.create("label", "", li);
          lab.htmlFor = box_.id;
          lab.textContent = it.label;
          if (it.detail) { L.DomUtil.create("span", "clsm-planner-detail", lab).textContent = " \u2014 " + it.detail; }
          var at = self._assigned[it.key];
          if (at) {
            L.DomUtil.create("span", "clsm-planner-assigned", lab).textContent =
              " " + fill(w.assigned, { council: self._council(at).name });
          }
          box_.addEventListener("change", function () {
            var focus = box_.id;
            self.toggle(it.key, box_.checked);
            var again = document.getElementById(focus);
            if (again) { again.focus(); }
          });
        });
        if (matching.length > SHOWN) { L.DomUtil.create("p", "clsm-planner-note", fieldset).textContent = w.truncated; }
      }
      if (!any) { L.DomUtil.create("p", "clsm-planner-note", box).textContent = w.none; }
    },
    /* The units vector of the registry plus every ticked item. */
    _x: function () {
      var d = this._d, x = new Float64Array(d.units.length), self = this;
      for (var i = 0; i < d.units.length; i++) { x[i] = d.units[i][U_COVERED] ? 1 : 0; }
      Object.keys(this._assigned).forEach(function (key) {
        self._byKey[key].units.forEach(function (u) { x[u] = 1; });
      });
      return x;
    },
    _compute: function () {
      var r = evaluate(this._d, this._x());
      r.councils = this._d.councils_active + this._councils.filter(function (c) {
        return c.isNew && c.items.length;
      }).length;
      return r;
    },
    _checkBase: function () {
      var d = this._d, r = this._base;
      for (var q = 0; q < d.qpv.length; q++) {
        if (r.statuses[q] !== d.qpv[q][Q_STATUS]) {
          console.error("clsm-geo planner: QPV " + d.qpv[q][Q_CODE] + " status differs from the engine's");
          return;
        }
      }
    },
    /* QPV polygons of the page by code, their GeoJSON layers' style wrapped to show the simulated status. */
    _qpvLayers: function () {
      var out = {}, override = this._override = {};
      var groups = [];
      Object.keys(window).forEach(function (k) {
        var v;
        try { v = window[k]; } catch (e) { return; }
        if (v instanceof L.GeoJSON && groups.indexOf(v) < 0) { groups.push(v); }
      });
      groups.forEach(function (group) {
        var isQpv = false;
        group.eachLayer(function (layer) {
          var id = layer.feature && String(layer.feature.id);
          if (id && id.indexOf("qpv-") === 0) {
            isQpv = true;
            out[id.slice(4)] = { layer: layer, group: group, props: L.extend({}, layer.feature.properties) };
          }
        });
        if (isQpv) {
          var style = group.options.style;
          group.options.style = function (feature) {
            var base = typeof style === "function" ? style(feature) : (style || {});
            return L.extend({}, base, override[feature.id] || {});
          };
        }
      });
      return out;
    },
    _refresh: function () {
      var d = this._d, w = this._w, f = this._fmt, self = this;
      var r = this._compute(), b = this._base;
      this.figures = { councils_active: r.councils, qpv_covered: r.covered, qpv_total: r.total,
                       qpv_covered_share: r.total ? Math.round(r.covered / r.total * 1e6) / 1e6 : 0,
                       region_qpv_covered: r.mineCovered, region_qpv_total: r.mine,
                       statuses: r.statuses.map(function (s) { return d.statuses[s]; }) };
      var set = function (key, value, text) {
        var dd = self._figures[key];
        if (!dd) { return; }
        dd.setAttribute("data-value", String(value));
        dd.textContent = text;
      };
      var delta = function (now, then) { return now === then ? "" : " (" + f.signed(f.int(now - then), now - then) + ")"; };
      set("councils_active", r.councils, f.int(r.councils) + delta(r.councils, b.councils));
      set("qpv_covered", r.covered, fill(w.of_total, { covered: f.int(r.covered), total: f.int(r.total) }) +
          delta(r.covered, b.covered));
      var share = r.total ? r.covered / r.total : 0, was = b.total ? b.covered / b.total : 0;
      var pts = Math.round((share - was) * 1000) / 10;
      set("qpv_covered_share", this.figures.qpv_covered_share, f.pct(share, 1) +
          (r.covered === b.covered ? "" : " (" + fill(w.points, { n: f.signed(f.dec(pts, 1), pts) }) + ")"));
      set("region_qpv_covered", r.mineCovered, fill(w.of_total, { covered: f.int(r.mineCovered), total: f.int(r.mine) }) +
          delta(r.mineCovered, b.mineCovered) + (r.mine ? " \u2014 " + f.pct(r.mineCovered / r.mine, 1) : ""));
      this._empty.hidden = Object.keys(this._assigned).length > 0;
      /* the map */
      d.qpv.forEach(function (q, i) {
        var hit = self._layers[q[Q_CODE]];
        if (!hit) { return; }
        var st = r.statuses[i], changed = st !== b.statuses[i], id = hit.layer.feature.id;
        if (changed) {
          self._override[id] = { fillColor: d.colors[st], color: "#000000", weight: 2.2, dashArray: "3 2" };
          hit.layer.feature.properties.status = escapeHtml(fill(w.simulated, { status: d.labels[st] }));
          hit.layer.feature.properties.share = r.shares[i] === null ? "" : escapeHtml(f.pct(r.shares[i], 0));
        } else {
          delete self._override[id];
          hit.layer.feature.properties.status = hit.props.status;
          hit.layer.feature.properties.share = hit.props.share;
        }
        hit.group.resetStyle(hit.layer);
      });
      /* the registry rows */
      var text = this.csv();
      this._csv.value = text;
      this._download.href = "data:text/csv;charset=utf-8," + encodeURIComponent((d.bom && text ? "\ufeff" : "") + text);
    },
    /* Registry rows (header first) for the councils with ticked items. */
    csv: function () {
      var d = this._d, sep = d.sep, self = this;
      var cell = function (v) {
        v = String(v);
        return /[",;\r\n]/.test(v) || v.indexOf(sep) >= 0 ? "\"" + v.replace(/"/g, "\"\"") + "\"" : v;
      };
      var lines = [d.columns.map(cell).join(sep)];
      this._councils.forEach(function (c) {
        if (!c.items.length) { return; }
        var communes = c.isNew ? [] : c.row[5].slice(), epci = c.isNew ? [] : c.row[6].slice();
        c.items.forEach(function (key) {
          var it = self._byKey[key];
          if (it.epci) {
            if (epci.indexOf(it.epci) < 0) { epci.push(it.epci); }
          } else {
            it.units.forEach(function (u) {
              var code = d.units[u][U_CODE];
              if (communes.indexOf(code) < 0) { communes.push(code); }
            });
          }
        });
        var row = c.isNew ? [c.id, c.name, "actif", String(d.year), ""] : c.row.slice(0, 5);
        lines.push(row.concat([communes.join(";"), epci.join(";")]).map(cell).join(sep));
      });
      return lines.length > 1 ? lines.join("\r\n") + "\r\n" : "";
    }
  });

  L.clsmPlanner = function (map, data, words) {
    var control = new L.Control.ClsmPlanner(data, words).addTo(map);
    map.clsmPlanner = control;
    return control;
  };
})(window.L);
