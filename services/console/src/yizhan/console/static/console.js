// The operator console's behaviour: draw the charts (Apache ECharts, served by the stations
// service itself), keep the picker simple on a phone, and apply live updates (server-sent
// events) to device state and alarms without reloading. Figures come from the page.
(function () {
  "use strict";

  var data = {};
  var holder = document.getElementById("chart-data");
  if (holder) {
    data = JSON.parse(holder.textContent || "{}");
  }
  var charts = [];
  var PALETTE = ["#b3261e", "#1a73e8", "#188038", "#e37400", "#9334e6", "#5f6368"];

  function count(values) {
    // How many points carry something: the browser test reads it as "the chart is not empty".
    return values.filter(function (v) { return v !== null && v !== 0; }).length;
  }

  function draw(el, option, points) {
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option);
    el.setAttribute("data-points", String(points));
    charts.push(chart);
  }

  function seriesChart(el) {
    var figure = el.getAttribute("data-figure");
    var values = (data.series.figures[figure] || []);
    var many = values.length > 40;
    draw(el, {
      color: PALETTE,
      title: { text: data.labels[figure] || figure, textStyle: { fontSize: 13 } },
      grid: { left: 48, right: 12, top: 36, bottom: 28 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.series.x, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", axisLabel: { hideOverlap: true }, minInterval: figure === "energy_kwh" || figure === "water_liters" || figure === "heat_minutes" ? 0 : 1 },
      series: [{ type: many ? "line" : "bar", data: values, showSymbol: false, areaStyle: many ? {} : undefined }]
    }, count(values));
  }

  function heatmap(el) {
    var hours = [];
    for (var h = 0; h < 24; h++) { hours.push(String(h)); }
    draw(el, {
      tooltip: { position: "top" },
      grid: { left: 48, right: 64, top: 12, bottom: 28 },
      xAxis: { type: "category", data: hours, splitArea: { show: true }, axisLabel: { hideOverlap: true } },
      yAxis: { type: "category", data: data.heatmap.weekdays, inverse: true, splitArea: { show: true } },
      visualMap: { min: 0, max: data.heatmap.max, calculable: true, orient: "vertical", right: 0,
                   top: "middle", itemHeight: 140, inRange: { color: ["#fff4f2", "#f4a99f", "#b3261e"] } },
      series: [{ type: "heatmap", data: data.heatmap.cells, emphasis: { itemStyle: { borderColor: "#333" } } }]
    }, count(data.heatmap.cells.map(function (c) { return c[2]; })));
  }

  function narrow(el) {
    // A phone's chart: fewer ticks and shorter names, so that labels never run into each other.
    return el.clientWidth < 520;
  }

  function ranking(el) {
    var small = narrow(el);
    draw(el, {
      color: PALETTE,
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", minInterval: 1, splitNumber: small ? 3 : 5, axisLabel: { hideOverlap: true } },
      yAxis: { type: "category", data: data.ranking.names,
               axisLabel: { width: small ? 96 : 140, overflow: "truncate", hideOverlap: true } },
      series: [{ type: "bar", data: data.ranking.values, name: data.labels.visits }]
    }, count(data.ranking.values));
  }

  function availability(el) {
    // A grid of stations × device kinds coloured by share of time online: 14 stations × 4
    // kinds stay readable, where grouped bars of near-100 % values would not.
    var stations = data.availability.stations;
    var kinds = data.availability.kinds;
    el.style.height = Math.max(200, 26 * stations.length + 70) + "px";
    var small = narrow(el);
    var nameWidth = small ? 96 : 160;
    // Width of one kind's column: too narrow for "100.0" in the cell, or for the kind's name.
    var column = (el.clientWidth - nameWidth - 80) / Math.max(1, kinds.length);
    var cells = [];
    kinds.forEach(function (kind, x) {
      kind.values.forEach(function (value, y) {
        if (value !== null) { cells.push([x, y, value]); }
      });
    });
    draw(el, {
      tooltip: {
        position: "top",
        formatter: function (p) {
          return stations[p.value[1]] + " · " + kinds[p.value[0]].name + ": " + p.value[2] + "%";
        }
      },
      grid: { left: 8, right: 72, top: 28, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: kinds.map(function (k) { return k.name; }), position: "top",
               splitArea: { show: true },
               axisLabel: { interval: 0, width: Math.max(24, column - 4), overflow: "truncate" } },
      yAxis: { type: "category", data: stations, inverse: true,
               axisLabel: { width: nameWidth, overflow: "truncate" } },
      visualMap: { min: 0, max: 100, orient: "vertical", right: 0, top: "middle", itemHeight: 120,
                   text: ["100%", "0%"], inRange: { color: ["#b3261e", "#fbbc04", "#188038"] } },
      series: [{ type: "heatmap", data: cells, label: { show: column >= 40, fontSize: 11 } }]
    }, cells.length);
  }

  function drawCharts() {
    if (!window.echarts) { return; }
    var makers = { series: seriesChart, heatmap: heatmap, ranking: ranking, availability: availability };
    var needs = { series: data.series, heatmap: data.heatmap, ranking: data.ranking, availability: data.availability };
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var kind = el.getAttribute("data-chart");
      if (needs[kind]) {
        makers[kind](el);
      } else {
        el.classList.add("empty");
        el.setAttribute("data-points", "0");
      }
    });
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 150);
    });
  }

  function picker() {
    var form = document.getElementById("picker");
    if (!form) { return; }
    var period = form.querySelector("#period");
    function toggle() {
      form.querySelectorAll(".custom").forEach(function (el) {
        var custom = period.value === "custom";
        el.style.display = custom ? "" : "none";
        // Hidden dates are not sent: the URL of a rolling period stays short and shareable.
        el.querySelector("input").disabled = !custom;
      });
    }
    toggle();
    period.addEventListener("change", function () {
      toggle();
      // A new period brings its own default bucket, unless custom dates are still to come.
      form.querySelector("#bucket").value = "";
      if (period.value !== "custom") { form.submit(); }
    });
    form.querySelectorAll("select[name=bucket], select[name=district]").forEach(function (el) {
      el.addEventListener("change", function () { form.submit(); });
    });
  }

  function text(el, value) {
    if (el) { el.textContent = value === null || value === undefined ? "–" : String(value); }
  }

  function cell(content, className) {
    var td = document.createElement("td");
    if (className) { td.className = className; }
    if (content instanceof Node) { td.appendChild(content); } else { td.textContent = content; }
    return td;
  }

  function renderAlarms(alarms, total) {
    var body = document.getElementById("live-alarms");
    if (!body) { return; }
    // The alarms page lists every open alarm; the stream carries the oldest few. Replace the
    // list only while the stream holds all of them (a reload shows a longer list).
    if (document.body.getAttribute("data-page") === "alarms" && total > alarms.length) { return; }
    // Same alarms, same acknowledgements: only the ages move. Rebuilding the rows would
    // throw away a note being typed.
    var key = alarms.map(function (a) { return a.id + ":" + (a.acknowledged_by || ""); }).join(",");
    var shown = Array.prototype.map.call(body.querySelectorAll("tr[data-alarm]"), function (tr) {
      return tr.getAttribute("data-alarm") + ":" + (tr.getAttribute("data-acked") || "");
    }).join(",");
    if (key === shown || body.contains(document.activeElement)) {
      alarms.forEach(function (a) {
        var row = body.querySelector("tr[data-alarm=\"" + a.id + "\"]");
        if (row) { text(row.querySelector(".age"), a.age); }
      });
      return;
    }
    var canAck = body.getAttribute("data-can-ack") === "1";
    var back = body.getAttribute("data-back") || "/console/alarms";
    var rows = alarms.map(function (a) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-alarm", a.id);
      tr.setAttribute("data-acked", a.acknowledged_by || "");
      // The code itself stays in the markup (for scripts and tests); people read its words.
      tr.setAttribute("data-code", a.code);
      tr.className = "sev-" + a.severity;
      var link = document.createElement("a");
      link.href = "/console/stations/" + encodeURIComponent(a.station_id);
      link.textContent = a.station_id;
      var heads = Array.prototype.map.call(body.parentNode.querySelectorAll("thead th"), function (th) {
        return th.textContent;
      });
      var add = function (td) {
        // The header's words, for the stacked rows of a phone (console.css).
        td.setAttribute("data-label", heads[tr.children.length] || "");
        tr.appendChild(td);
      };
      // A code the console names needs no words of its own; a device's own code brings them.
      var codeLabel = a.code_label || a.code;
      add(cell(link));
      // A station-wide alarm (a dark station) names no device.
      add(cell(a.device_id || (document.documentElement.lang === "en" ? "Whole station" : "整个驿站"), "device_id"));
      add(cell(codeLabel + (a.message && codeLabel === a.code ? " · " + a.message : ""), "code"));
      add(cell(a.severity_label || a.severity, "severity"));
      add(cell(a.since_local, "since"));
      add(cell(a.age, "age"));
      if (a.acknowledged_by) {
        add(cell("✓ " + a.acknowledged_by + (a.acknowledged_local ? " · " + a.acknowledged_local : "") +
                 (a.note ? " · " + a.note : ""), "acknowledged"));
      } else if (canAck) {
        var form = document.createElement("form");
        form.method = "post";
        form.action = "/console/alarms/" + a.id + "/ack";
        form.className = "ack";
        var next = document.createElement("input");
        next.type = "hidden"; next.name = "next"; next.value = back;
        var note = document.createElement("input");
        note.name = "note"; note.maxLength = 500;
        note.placeholder = document.documentElement.lang === "en" ? "Note" : "备注";
        note.setAttribute("aria-label", note.placeholder);
        var button = document.createElement("button");
        button.type = "submit";
        button.textContent = document.documentElement.lang === "en" ? "Acknowledge" : "确认";
        form.appendChild(note); form.appendChild(next); form.appendChild(button);
        add(cell(form));
      } else {
        add(cell("–"));
      }
      return tr;
    });
    if (!rows.length) {
      var none = document.createElement("tr");
      var td = cell(document.documentElement.lang === "en" ? "No open alarms" : "没有未关闭的告警", "empty");
      td.colSpan = 7;
      none.appendChild(td);
      rows.push(none);
    }
    body.replaceChildren.apply(body, rows);
  }

  function apply(state) {
    document.body.classList.toggle("source-down", !!state.down);
    if (state.down) { return; }
    ["open_alarms", "devices_online", "visits_today"].forEach(function (key) {
      if (key in state) {
        document.querySelectorAll("[data-live=" + key + "]").forEach(function (el) { text(el, state[key]); });
      }
    });
    (state.devices || []).forEach(function (d) {
      var row = document.querySelector("tr[data-device=\"" + CSS.escape(d.id) + "\"]");
      if (!row) { return; }
      var online = row.querySelector(".online");
      online.classList.toggle("is-online", d.online);
      online.classList.toggle("is-offline", !d.online);
      text(online, d.online ? (document.documentElement.lang === "en" ? "Online" : "在线")
                            : (document.documentElement.lang === "en" ? "Offline" : "离线"));
      text(row.querySelector(".last-seen"), d.last_seen);
      text(row.querySelector(".alarms"), d.alarms || "–");
    });
    (state.stations || []).forEach(function (s) {
      var row = document.querySelector("tr[data-station=\"" + CSS.escape(s.id) + "\"]");
      if (!row) { return; }
      text(row.querySelector(".devices_online"), s.devices_online);
      text(row.querySelector(".open_alarms"), s.open_alarms);
    });
    if (state.devices) {
      var offline = state.devices.filter(function (d) { return !d.online; }).length;
      document.querySelectorAll("[data-live=devices_offline]").forEach(function (el) { text(el, offline); });
    } else if ("devices_online" in state) {
      document.querySelectorAll("[data-live=devices_offline]").forEach(function (el) {
        var total = parseInt(el.getAttribute("data-total") || "NaN", 10);
        if (!isNaN(total)) { text(el, Math.max(0, total - state.devices_online)); }
      });
    }
    if (state.alarms) { renderAlarms(state.alarms, state.open_alarms); }
    document.body.setAttribute("data-live-updates", String(1 + parseInt(document.body.getAttribute("data-live-updates") || "0", 10)));
  }

  function live() {
    var url = document.body.getAttribute("data-live-url");
    if (!url || !window.EventSource) { return; }
    var source = new EventSource(url);
    source.addEventListener("state", function (event) { apply(JSON.parse(event.data)); });
  }

  drawCharts();
  picker();
  live();
})();
