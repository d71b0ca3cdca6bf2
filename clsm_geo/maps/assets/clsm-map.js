/* clsm-geo map controls (MIT): a search box over communes, QPV, councils and territories, one-click views
   (metropolitan France and each overseas department) and a legend.
   Search rows: [label, kind index, lat, lon, half height, half width] (centre and half size of the bounding box).
   Labels are inserted with textContent only; the legend HTML is built and escaped by clsm-geo. */
(function (L) {
  "use strict";
  /* Compact geometries written by clsm-geo (integers, differences along each ring) back to GeoJSON. */
  function ring(flat, scale) {
    var out = [], x = 0, y = 0;
    for (var i = 0; i < flat.length; i += 2) { x += flat[i]; y += flat[i + 1]; out.push([x / scale, y / scale]); }
    return out;
  }
  function decode(g) {
    if (!g || g.c === undefined) { return g; }
    var scale = Math.pow(10, g.z);
    var polygon = function (rings) { return rings.map(function (r) { return ring(r, scale); }); };
    return { type: g.type, coordinates: g.type === "Polygon" ? polygon(g.c) : g.c.map(polygon) };
  }
  var addData = L.GeoJSON.prototype.addData;
  L.GeoJSON.prototype.addData = function (data) {
    if (data && data.type === "FeatureCollection") {
      data.features.forEach(function (f) { f.geometry = decode(f.geometry); });
    }
    return addData.call(this, data);
  };

  function fold(text) {
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  L.Control.ClsmSearch = L.Control.extend({
    options: { position: "topleft", placeholder: "Search a commune, QPV, council…", maxResults: 12,
               kinds: ["region", "department", "CLSM", "QPV", "commune"] },  /* words given by clsm-geo */
    initialize: function (index, options) {
      L.setOptions(this, options);
      this._index = index.map(function (row) { return { row: row, key: fold(row[0]) }; });
    },
    onAdd: function (map) {
      var box = L.DomUtil.create("div", "clsm-search leaflet-bar");
      var input = L.DomUtil.create("input", "clsm-search-input", box);
      input.type = "search";
      input.placeholder = this.options.placeholder;
      input.setAttribute("aria-label", this.options.placeholder);
      var list = L.DomUtil.create("ul", "clsm-search-results", box);
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      var self = this;
      this._map = map;
      this._input = input;
      this._list = list;
      input.addEventListener("input", function () { self._update(); });
      input.addEventListener("keydown", function (e) {
        var items = list.querySelectorAll("li");
        var current = list.querySelector("li.active");
        var i = Array.prototype.indexOf.call(items, current);
        if (e.key === "ArrowDown" || e.key === "ArrowUp") {
          e.preventDefault();
          if (!items.length) { return; }
          i = e.key === "ArrowDown" ? Math.min(items.length - 1, i + 1) : Math.max(0, i - 1);
          if (current) { current.classList.remove("active"); }
          items[i].classList.add("active");
        } else if (e.key === "Enter" && items.length) {
          e.preventDefault();
          self._go((current || items[0])._row);
        } else if (e.key === "Escape") {
          list.innerHTML = "";
        }
      });
      return box;
    },
    search: function (text) {
      var q = fold(text).trim();
      if (q.length < 2) { return []; }
      var starts = [], contains = [];
      for (var i = 0; i < this._index.length; i++) {
        var entry = this._index[i], at = entry.key.indexOf(q);
        if (at === 0) { starts.push(entry); } else if (at > 0) { contains.push(entry); }
      }
      var shortest = function (a, b) { return a.key.length - b.key.length; };  /* stable: kinds keep their order */
      return starts.sort(shortest).concat(contains.sort(shortest)).slice(0, this.options.maxResults)
        .map(function (entry) { return entry.row; });
    },
    _update: function () {
      var list = this._list, self = this;
      list.innerHTML = "";
      this.search(this._input.value).forEach(function (row) {
        var li = L.DomUtil.create("li", "", list);
        var kind = L.DomUtil.create("span", "clsm-search-kind", li);
        kind.textContent = self.options.kinds[row[1]];
        li.appendChild(document.createTextNode(" " + row[0]));
        li._row = row;
        li.addEventListener("click", function () { self._go(row); });
      });
    },
    _go: function (row) {
      var bounds = L.latLngBounds([row[2] - row[4], row[3] - row[5]], [row[2] + row[4], row[3] + row[5]]);
      if (this._mark) { this._map.removeLayer(this._mark); }
      this._mark = L.rectangle(bounds.pad(0.15), { color: "#222", weight: 2, dashArray: "5 4", fill: false,
                                                   interactive: false }).addTo(this._map);
      this._map.fitBounds(bounds, { maxZoom: 14, padding: [20, 20] });
      this._list.innerHTML = "";
      this._input.value = row[0];
    }
  });

  /* Land and boundaries from one GeoJSON layer (or GeoJSON data), not interactive: a fill under everything
     (when fill is given: offline pages have no tiles) and lines above the choropleth. */
  L.clsmLand = function (source, fill, line) {
    var data = source && source.toGeoJSON ? source.toGeoJSON(5) : source;
    var group = L.layerGroup();
    if (fill) {
      group.addLayer(L.geoJson(data, { interactive: false, pane: "clsm-land", style: fill }));
    }
    group.addLayer(L.geoJson(data, { interactive: false, pane: "clsm-boundaries", style: line }));
    return group;
  };

  /* One button per view [label, south, west, north, east]: a click (or Enter / Space) flies there; and a list of
     territories (regions and departments of the search index) to reach any of them by keyboard. */
  L.Control.ClsmViews = L.Control.extend({
    options: { position: "topleft", label: "Go to", list: "Territories", kinds: [] },
    initialize: function (views, territories, options) {
      L.setOptions(this, options);
      this._views = views;
      this._territories = territories;
    },
    onAdd: function (map) {
      var box = L.DomUtil.create("div", "clsm-views leaflet-bar");
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", this.options.label);
      var fly = function (s, w, n, e) { map.flyToBounds([[s, w], [n, e]], { padding: [10, 10], duration: 0.6 }); };
      this._views.forEach(function (view) {
        var button = L.DomUtil.create("button", "clsm-view", box);
        button.type = "button";
        button.textContent = view[0];
        button.addEventListener("click", function () { fly(view[1], view[2], view[3], view[4]); });
      });
      if (this._territories.length) {
        var select = L.DomUtil.create("select", "clsm-territories", box);
        select.setAttribute("aria-label", this.options.list);
        var first = L.DomUtil.create("option", "", select);
        first.value = "";
        first.textContent = this.options.list;
        var kinds = this.options.kinds, groups = {};
        this._territories.forEach(function (row, i) {
          var group = groups[row[1]];
          if (!group) {
            group = groups[row[1]] = L.DomUtil.create("optgroup", "", select);
            group.label = kinds[row[1]] || "";
          }
          var option = L.DomUtil.create("option", "", group);
          option.value = String(i);
          option.textContent = row[0];
        });
        var rows = this._territories;
        select.addEventListener("change", function () {
          var row = rows[Number(select.value)];
          if (row) { fly(row[2] - row[4], row[3] - row[5], row[2] + row[4], row[3] + row[5]); }
        });
      }
      L.DomEvent.disableClickPropagation(box);
      return box;
    }
  });

  L.Control.ClsmLegend = L.Control.extend({
    options: { position: "bottomright", fold: "Fold the legend", unfold: "Unfold the legend", title: "Legend" },
    initialize: function (html, options) { L.setOptions(this, options); this._html = html; },
    onAdd: function (map) {
      var o = this.options;
      this._map = map;
      var div = L.DomUtil.create("div", "clsm-legend leaflet-control");
      div.setAttribute("role", "region");
      div.setAttribute("aria-label", o.title);
      var toggle = L.DomUtil.create("button", "clsm-legend-toggle", div);
      toggle.type = "button";
      var body = L.DomUtil.create("div", "clsm-legend-body", div);
      body.id = "clsm-legend-body-" + L.stamp(this);
      body.innerHTML = this._html;  /* built and escaped by clsm-geo */
      Array.prototype.forEach.call(body.querySelectorAll(".sw"), function (sw) {  /* CSSOM: allowed by CSP */
        if (sw.dataset.fill) { sw.style.background = sw.dataset.fill; }
        if (sw.dataset.opacity) { sw.style.opacity = sw.dataset.opacity; }
        if (sw.dataset.line) { sw.style.borderTopColor = sw.dataset.line; }
      });
      toggle.setAttribute("aria-controls", body.id);
      var fit = function () {  /* on narrow maps, never reach down over the controls at the top left */
        var box = map.getContainer().getBoundingClientRect();
        var corner = map.getContainer().querySelector(".leaflet-top.leaflet-left");
        var used = corner ? corner.getBoundingClientRect().bottom - box.top : 0;
        div.style.maxHeight = box.width < 600 ? Math.max(80, box.height - used - 45) + "px" : "";
      };
      map.on("resize", fit);
      var show = function (folded) {
        div.classList.toggle("clsm-legend-folded", folded);
        if (!folded && div.parentNode) { fit(); }
        toggle.textContent = folded ? o.title : "\u2013";
        toggle.title = folded ? o.unfold : o.fold;
        toggle.setAttribute("aria-label", toggle.title);
        toggle.setAttribute("aria-expanded", folded ? "false" : "true");
      };
      show(this._map ? this._map.getSize().x < 600 : false);  /* folded on phones */
      toggle.addEventListener("click", function () { show(!div.classList.contains("clsm-legend-folded")); });
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    }
  });

  /* The page's own controls with their words (w: search, kinds, fold, unfold, legend, views, zoomIn, zoomOut,
     layers). */
  L.clsmControls = function (map, index, legend, views, w) {
    var d = document;
    if (!(d.fullscreenEnabled || d.webkitFullscreenEnabled || d.mozFullScreenEnabled || d.msFullscreenEnabled)) {
      map.getContainer().classList.add("clsm-no-fullscreen");  /* e.g. a frame without allow="fullscreen" */
    }
    var label = function (el, text) { if (el && text) { el.title = text; el.setAttribute("aria-label", text); } };
    if (map.zoomControl) {  /* Leaflet's own controls, in the page's language */
      label(map.zoomControl._zoomInButton, w.zoomIn);
      label(map.zoomControl._zoomOutButton, w.zoomOut);
    }
    map.whenReady(function () {
      label(map.getContainer().querySelector(".leaflet-control-layers-toggle"), w.layers);
    });
    var untab = function (layer) { if (layer._path) { layer._path.setAttribute("tabindex", "-1"); } };
    map.eachLayer(untab);  /* polygons are reached by the search box, not one Tab each */
    map.on("layeradd", function (e) { untab(e.layer); });
    new L.Control.ClsmSearch(index, { placeholder: w.search, kinds: w.kinds }).addTo(map);
    var territories = index.filter(function (row) { return row[1] <= 1; });  /* regions, departments */
    if (views.length || territories.length) {
      new L.Control.ClsmViews(views, territories, { label: w.views, list: w.territories, kinds: w.kinds })
        .addTo(map);
    }
    new L.Control.ClsmLegend(legend, { fold: w.fold, unfold: w.unfold, title: w.legend }).addTo(map);
  };
})(window.L);
