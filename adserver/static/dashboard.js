// The store dashboard (adserver/dashboard.html): reads the report API with the operator token
// from the URL fragment and draws every chart as SVG here, at the width the page gives it, so
// text stays legible from a phone to 1280 px. No data is ever written as HTML: text goes in
// through textContent, so a store name or bucket cannot inject markup.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const COLOURS = { people: "#1f77b4", watchers: "#ff7f0e", previous: "#9aa5b1",
                    impressions: "#2ca02c", dwell: "#9467bd", looking: "#d62728" };
  const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const HOUR_MS = 3600000;

  const store = decodeURIComponent(location.pathname.split("/")[2] || "");
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token") || "";
  let current = null;
  let previous = null;

  function el(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svgEl(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // "2026-11-24T09:00:00+01:00" is the store's own clock: read its fields, never the browser's.
  function day(hour) { return hour.slice(0, 10); }
  function dateLabel(isoDay) {
    const [y, m, d] = isoDay.split("-").map(Number);
    const weekday = WEEKDAYS[(new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7];
    return `${weekday} ${d} ${MONTHS[m - 1]}`;
  }
  function weekdayIndex(isoDay) {
    const [y, m, d] = isoDay.split("-").map(Number);
    return (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
  }
  function rangeLabel(report) {
    const first = report.hours[0], last = report.hours[report.hours.length - 1];
    if (!first) return "";
    const year = last.hour.slice(0, 4);
    return `${dateLabel(day(first.hour))} to ${dateLabel(day(last.hour))} ${year}` +
      ` (${report.time_zone})`;
  }
  // The axis maximum: at least 5 and the value, close above it, with round fifths.
  function niceMax(value) {
    if (value <= 5) return 5;
    if (value <= 10) return 10;  // counts: fifths of 2, never 1.2
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
      if (step * magnitude >= value) return step * magnitude;
    }
    return 10 * magnitude;
  }

  // Text on several lines (tspans), each centred on x.
  function lines(attributes, parts) {
    const text = svgEl("text", attributes);
    parts.forEach((part, index) => {
      text.appendChild(svgEl("tspan", { x: attributes.x, dy: index ? "1.2em" : "0" }, part));
    });
    return text;
  }

  // The legend's items laid out in rows that fit ``width``; returns the group and its height.
  function legendOf(series, left, width) {
    const legend = svgEl("g", { class: "legend" });
    let x = left, y = 8;
    for (const item of series) {
      const itemWidth = 24 + item.name.length * 7;
      if (x > left && x + itemWidth > width) { x = left; y += 16; }
      legend.appendChild(svgEl("rect", { x: x, y: y, width: 10, height: 10, fill: item.colour }));
      legend.appendChild(svgEl("text", { x: x + 14, y: y + 9 }, item.name));
      x += itemWidth;
    }
    return [legend, y + 16];
  }
  function number(value) { return value === null || value === undefined ? "–" : String(value); }

  // A grouped bar chart. categories: [{label, axisLabel?}], series: [{name, colour, values}];
  // axisTitle names what the categories are (always with the dates they cover).
  function barChart(container, spec) {
    const width = Math.max(280, container.clientWidth || 600);
    const height = Math.round(Math.min(360, Math.max(260, width * 0.45)));
    const left = 48, right = 8, bottom = 80;
    const [legend, top] = legendOf(spec.series, left, width - right);
    const plotWidth = width - left - right, plotHeight = height - top - bottom;
    const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width: String(width),
                               height: String(height), role: "img", "font-size": "12" });
    svg.appendChild(svgEl("title", {}, spec.title));
    const max = niceMax(Math.max(0, ...spec.series.flatMap((s) => s.values.map((v) => v || 0))));
    // y axis: five gridlines with values
    for (let i = 0; i <= 5; i++) {
      const y = top + plotHeight - (plotHeight * i) / 5;
      svg.appendChild(svgEl("line", { x1: left, x2: width - right, y1: y, y2: y,
                                      stroke: i ? "#eee" : "#999" }));
      const value = (max * i) / 5;
      svg.appendChild(svgEl("text", { x: left - 4, y: y + 4, "text-anchor": "end", fill: "#555" },
                            Number.isInteger(value) ? String(value) : value.toFixed(1)));
    }
    svg.appendChild(svgEl("text", { x: 12, y: top + plotHeight / 2, fill: "#555",
                                    transform: `rotate(-90 12 ${top + plotHeight / 2})`,
                                    "text-anchor": "middle" }, spec.yTitle));
    const groups = spec.categories.length || 1;
    const pitch = plotWidth / groups;
    const barWidth = Math.max(1, (pitch * 0.8) / spec.series.length);
    const bars = svgEl("g", { class: "bars" });
    spec.categories.forEach((category, index) => {
      spec.series.forEach((series, s) => {
        const value = series.values[index] || 0;
        const h = (plotHeight * value) / max;
        const x = left + index * pitch + pitch * 0.1 + s * barWidth;
        const bar = svgEl("rect", { x: x.toFixed(1), y: (top + plotHeight - h).toFixed(1),
                                    width: barWidth.toFixed(1), height: h.toFixed(1),
                                    fill: series.colour });
        bar.appendChild(svgEl("title", {}, `${category.label} ${series.name}: ${series.values[index] ?? "suppressed"}`));
        bars.appendChild(bar);
      });
    });
    svg.appendChild(bars);
    // x axis: each category's axis label where it has one (hourly charts label each day)
    const axis = svgEl("g", { class: "x-axis" });
    const every = Math.max(1, Math.ceil(spec.categories.filter((c) => c.axisLabel).length /
                                        Math.max(1, Math.floor(plotWidth / 70))));
    let labelled = 0;
    spec.categories.forEach((category, index) => {
      if (!category.axisLabel) return;
      if (labelled++ % every) return;
      const x = left + index * pitch + (spec.tickAtStart ? 0 : pitch / 2);
      axis.appendChild(svgEl("line", { x1: x, x2: x, y1: top + plotHeight, y2: top + plotHeight + 4, stroke: "#999" }));
      // "senior/female" on two lines, so neighbouring buckets do not run into each other
      axis.appendChild(lines({ x: x, y: top + plotHeight + 16, "text-anchor": "middle", fill: "#333" },
                             category.axisLabel.split("/")));
    });
    // what the axis is, then the dates it covers, on a line of their own
    axis.appendChild(lines({ class: "axis-title", x: left + plotWidth / 2, y: height - 26,
                             "text-anchor": "middle", fill: "#555" }, spec.xTitle));
    svg.appendChild(axis);
    svg.appendChild(legend);
    container.replaceChildren(svg);
  }

  function figure(id, caption, wide) {
    const node = el("figure", { id: id, class: wide ? "wide" : "" });
    node.appendChild(el("figcaption", {}, caption));
    node.appendChild(el("div", { class: "chart" }));
    document.getElementById("charts").appendChild(node);
    return node.querySelector(".chart");
  }

  function totalsCard(label, value, before) {
    const card = el("div", { class: "total" });
    card.appendChild(el("small", {}, label));
    card.appendChild(el("b", {}, number(value)));
    if (typeof value === "number" && typeof before === "number") {
      const change = before ? `${value >= before ? "+" : ""}${(100 * (value - before) / before).toFixed(0)} %` : "new";
      card.appendChild(el("small", {}, `previous period ${before} (${change})`));
    }
    return card;
  }

  function draw() {
    const report = current;
    const dates = rangeLabel(report);
    document.getElementById("title").textContent = `Store dashboard: ${report.store}`;
    document.getElementById("range").textContent = `${dates}, from the hourly rollups`;
    const totals = document.getElementById("totals");
    const before = previous ? previous.totals : {};
    totals.replaceChildren(
      totalsCard("People (opportunities to see)", report.totals.people, before.people),
      totalsCard("Watchers (looked ≥ 1 s)", report.totals.watchers, before.watchers),
      totalsCard("Impressions", report.totals.impressions, before.impressions),
      totalsCard("Median dwell (s)", report.totals.dwell_s ? report.totals.dwell_s.median : null),
      totalsCard("Median attention (s)", report.totals.looking_s ? report.totals.looking_s.median : null),
    );
    document.getElementById("charts").replaceChildren();

    const hours = report.hours;
    const hourly = hours.map((row, index) => ({
      label: `${dateLabel(day(row.hour))} ${row.hour.slice(11, 16)}`,
      axisLabel: row.hour.slice(11, 13) === "00" || index === 0 ? dateLabel(day(row.hour)) : "",
    }));
    barChart(figure("people-by-hour", "People and watchers by hour", true), {
      title: `People and watchers by hour, ${dates}`, categories: hourly, tickAtStart: true,
      series: [
        { name: "People", colour: COLOURS.people, values: hours.map((r) => r.people) },
        { name: "Watchers", colour: COLOURS.watchers, values: hours.map((r) => r.watchers) },
      ],
      yTitle: "people", xTitle: [`hour (${report.time_zone})`, dates],
    });

    const byWeekday = WEEKDAYS.map(() => ({ people: 0, watchers: 0 }));
    const beforeWeekday = WEEKDAYS.map(() => 0);
    for (const row of hours) {
      byWeekday[weekdayIndex(day(row.hour))].people += row.people || 0;
      byWeekday[weekdayIndex(day(row.hour))].watchers += row.watchers || 0;
    }
    for (const row of previous ? previous.hours : []) beforeWeekday[weekdayIndex(day(row.hour))] += row.people || 0;
    barChart(figure("people-by-weekday", "People by day of the week"), {
      title: `People by day of the week, ${dates}`,
      categories: WEEKDAYS.map((d) => ({ label: d, axisLabel: d })),
      series: [
        { name: "People", colour: COLOURS.people, values: byWeekday.map((w) => w.people) },
        { name: "Watchers", colour: COLOURS.watchers, values: byWeekday.map((w) => w.watchers) },
        { name: "People, previous period", colour: COLOURS.previous, values: beforeWeekday },
      ],
      yTitle: "people", xTitle: ["day of the week", dates],
    });

    const buckets = Object.keys(report.by_bucket);
    const figures = buckets.map((b) => report.by_bucket[b]);
    const bucketAxis = buckets.map((b) => ({ label: b, axisLabel: b.replace("young_adult", "young adult") }));
    barChart(figure("people-by-bucket", "People and watchers by audience"), {
      title: `People and watchers by audience, ${dates}`, categories: bucketAxis,
      series: [
        { name: "People", colour: COLOURS.people, values: figures.map((f) => f.people) },
        { name: "Watchers", colour: COLOURS.watchers, values: figures.map((f) => f.watchers) },
      ],
      yTitle: "people", xTitle: ["audience bucket", dates],
    });
    barChart(figure("impressions-by-bucket", "Impressions by the audience they were chosen for"), {
      title: `Impressions by audience, ${dates}`, categories: bucketAxis,
      series: [{ name: "Impressions", colour: COLOURS.impressions, values: figures.map((f) => f.impressions) }],
      yTitle: "plays", xTitle: ["audience bucket", dates],
    });
    const quantile = (f, field, q) => (f[field] ? f[field][q] : null);
    barChart(figure("durations-by-bucket", "Dwell and attention by audience (median, p90)"), {
      title: `Dwell and attention by audience, ${dates}`, categories: bucketAxis,
      series: [
        { name: "Dwell median", colour: COLOURS.dwell, values: figures.map((f) => quantile(f, "dwell_s", "median")) },
        { name: "Dwell p90", colour: "#c5b0d5", values: figures.map((f) => quantile(f, "dwell_s", "p90")) },
        { name: "Attention median", colour: COLOURS.looking, values: figures.map((f) => quantile(f, "looking_s", "median")) },
        { name: "Attention p90", colour: "#ff9896", values: figures.map((f) => quantile(f, "looking_s", "p90")) },
      ],
      yTitle: "seconds", xTitle: ["audience bucket", dates],
    });
    const spread = report.totals.distributions;
    if (spread) {
      const edges = spread.edges_s;
      const binLabel = (i) => (i === 0 ? "0 s" : i === edges.length ? `> ${edges[i - 1]} s`
        : `${edges[i - 1]}–${edges[i]} s`);
      barChart(figure("duration-distributions", "How long people stayed and looked", true), {
        title: `Dwell and attention distributions, ${dates}`,
        categories: spread.dwell.map((_, i) => ({ label: binLabel(i), axisLabel: binLabel(i) })),
        series: [
          { name: "People by dwell", colour: COLOURS.dwell, values: spread.dwell },
          { name: "People by attention", colour: COLOURS.looking, values: spread.looking },
        ],
        yTitle: "people", xTitle: ["seconds in front of the screen, or looking at it", dates],
      });
    }
    const ads = Object.keys(report.by_ad || {});
    barChart(figure("audience-by-ad", "Impressions and audience per ad (people present while it played)"), {
      title: `Impressions and audience per ad, ${dates}`,
      categories: ads.map((ad) => ({ label: ad, axisLabel: ad })),
      series: [
        { name: "Impressions", colour: COLOURS.impressions, values: ads.map((a) => report.by_ad[a].impressions) },
        { name: "People present", colour: COLOURS.people, values: ads.map((a) => report.by_ad[a].audience_people) },
        { name: "Watchers present", colour: COLOURS.watchers, values: ads.map((a) => report.by_ad[a].audience_watchers) },
      ],
      yTitle: "count", xTitle: ["ad", dates],
    });
    const displays = Object.keys(report.by_display);
    const cameras = Object.keys(report.by_camera);
    barChart(figure("by-place", "Impressions by display, people by camera"), {
      title: `Impressions by display and people by camera, ${dates}`,
      categories: [...displays, ...cameras].map((p) => ({ label: p, axisLabel: p })),
      series: [
        { name: "Impressions", colour: COLOURS.impressions,
          values: [...displays.map((d) => report.by_display[d].impressions), ...cameras.map(() => 0)] },
        { name: "People", colour: COLOURS.people,
          values: [...displays.map(() => 0), ...cameras.map((c) => report.by_camera[c].people)] },
      ],
      yTitle: "count", xTitle: ["display or camera", dates],
    });
    document.getElementById("privacy").textContent =
      `Cells of fewer than ${report.min_cell_count} people are not shown ` +
      `(${report.suppressed_cells} this period); totals always are.`;
  }

  function csv(report) {
    const buckets = Object.keys(report.by_bucket);
    const quote = (value) => `"${String(value).replace(/"/g, '""')}"`;
    const lines = [["hour", "people", "watchers", "impressions",
                    ...buckets.map((b) => `people ${b}`), ...buckets.map((b) => `impressions ${b}`)]];
    for (const row of report.hours) {
      const impressions = Object.values(row.impressions).reduce((a, b) => a + b, 0);
      lines.push([row.hour, row.people ?? "", row.watchers ?? "", impressions,
                  ...buckets.map((b) => row.audience[b] ?? ""),
                  ...buckets.map((b) => row.impressions[b] ?? 0)]);
    }
    return lines.map((line) => line.map(quote).join(",")).join("\r\n") + "\r\n";
  }

  async function fetchReport(fromMs, toMs) {
    const query = `from=${fromMs}&to=${toMs}`;
    const response = await fetch(`/v1/stores/${encodeURIComponent(store)}/report?${query}`, {
      headers: { Authorization: `Bearer ${token}` }, cache: "no-store",
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(`${response.status}: ${body.message || response.statusText}`);
    }
    return response.json();
  }

  function say(text) {
    document.getElementById("status").textContent = text;
  }

  async function main() {
    if (!token) {
      document.body.dataset.state = "error";
      say("No operator token: open this page as /stores/{store}/dashboard#token=...");
      return;
    }
    const now = Date.now();
    const toMs = params.get("to") ? Date.parse(params.get("to")) : now - (now % HOUR_MS) + HOUR_MS;
    const fromMs = params.get("from") ? Date.parse(params.get("from")) : toMs - 7 * 24 * HOUR_MS;
    if (!(toMs > fromMs)) {
      document.body.dataset.state = "error";
      say("from and to in the fragment must be ISO 8601 times, from before to");
      return;
    }
    try {
      current = await fetchReport(fromMs, toMs);
      const span = toMs - fromMs;
      previous = await fetchReport(fromMs - span, fromMs).catch(() => null);
    } catch (error) {
      document.body.dataset.state = "error";
      say(`The report could not be read (${error.message}): is the token an operator's?`);
      return;
    }
    draw();
    const button = document.getElementById("csv");
    button.disabled = false;
    button.addEventListener("click", () => {
      const blob = new Blob([csv(current)], { type: "text/csv" });
      const link = el("a", { href: URL.createObjectURL(blob),
                             download: `${current.store}-${current.from.slice(0, 10)}-${current.to.slice(0, 10)}.csv` });
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
    let width = window.innerWidth;
    window.addEventListener("resize", () => {
      if (window.innerWidth !== width) { width = window.innerWidth; draw(); }
    });
    document.body.dataset.state = "ready";
  }

  main();
})();
