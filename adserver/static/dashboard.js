// The store dashboard (adserver/dashboard.html): who is in front of each display right now,
// and the report of a range (today, yesterday, 7 or 30 days, or chosen dates) read with the
// operator token from the URL fragment. Charts are SVG drawn here at the width the page
// gives them; every axis label is measured once drawn and labels are thinned until none
// touches its neighbour, so text stays whole from a 390 px phone to a 1920 px screen. No data
// is ever written as HTML: text goes in through textContent, so a name cannot inject markup.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const COLOURS = { people: "#1f77b4", watchers: "#ff7f0e", previous: "#9aa5b1",
                    impressions: "#2ca02c", dwell: "#9467bd", looking: "#d62728" };
  const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const HOUR_MS = 3600000;
  const DAY_MS = 24 * HOUR_MS;
  const MAX_DAYS = 31;  // the report API's longest range
  const NOW_EVERY_MS = 5000;
  const RANGES = { today: "Today", yesterday: "Yesterday", "7d": "Last 7 days", "30d": "Last 30 days" };
  const GAP = 6;  // the least room between two labels, in pixels
  const numbers = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 1 });

  const store = decodeURIComponent(location.pathname.split("/")[2] || "");
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token") || "";
  let timeZone = "UTC";
  let current = null;
  let previous = null;
  let shown = null;  // the range on screen: {from, to, name}
  let leftToday = null;

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

  // ------------------------------------------------------------------ the store's calendar
  // Days are "YYYY-MM-DD" on the store's clock; the browser's own zone is never used.
  function zoneOffsetMs(utcMs) {
    const parts = {};
    const format = new Intl.DateTimeFormat("en-US", { timeZone: timeZone, hourCycle: "h23",
      year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
    for (const part of format.formatToParts(new Date(utcMs))) parts[part.type] = Number(part.value);
    const asUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour % 24, parts.minute, parts.second);
    return asUtc - (utcMs - (utcMs % 1000));
  }
  function storeDay(utcMs) {
    return new Date(utcMs + zoneOffsetMs(utcMs)).toISOString().slice(0, 10);
  }
  function addDays(isoDay, days) {
    const [y, m, d] = isoDay.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
  }
  function midnight(isoDay) {
    const [y, m, d] = isoDay.split("-").map(Number);
    const guess = Date.UTC(y, m - 1, d);
    const first = guess - zoneOffsetMs(guess);
    return guess - zoneOffsetMs(first);  // again, in case a clock change lies between
  }
  function weekdayIndex(isoDay) {
    const [y, m, d] = isoDay.split("-").map(Number);
    return (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
  }
  function dateLabel(isoDay) {
    const d = Number(isoDay.slice(8, 10));
    return `${WEEKDAYS[weekdayIndex(isoDay)]} ${d} ${MONTHS[Number(isoDay.slice(5, 7)) - 1]}`;
  }

  // The range the fragment asks for: range=today|yesterday|7d|30d, or from=/to= dates
  // (inclusive days) or ISO times; today when it names none.
  function wantedRange() {
    const today = storeDay(Date.now());
    const name = params.get("range") || (params.get("from") ? "custom" : "today");
    const days = { today: [today, today], yesterday: [addDays(today, -1), addDays(today, -1)],
                   "7d": [addDays(today, -6), today], "30d": [addDays(today, -29), today] };
    if (days[name]) {
      return { name: name, from: midnight(days[name][0]), to: midnight(addDays(days[name][1], 1)) };
    }
    const from = params.get("from") || "", to = params.get("to") || from;
    const isDay = (text) => /^\d{4}-\d{2}-\d{2}$/.test(text);
    const fromMs = isDay(from) ? midnight(from) : Date.parse(from);
    const toMs = isDay(to) ? midnight(addDays(to, 1)) : Date.parse(to);
    return { name: "custom", from: fromMs, to: toMs };
  }

  function rangeLabel(report) {
    const firstDay = report.hours[0].hour.slice(0, 10);
    const lastDay = report.hours[report.hours.length - 1].hour.slice(0, 10);
    const year = lastDay.slice(0, 4);
    const dates = firstDay === lastDay ? `${dateLabel(firstDay)} ${year}`
      : `${dateLabel(firstDay)} to ${dateLabel(lastDay)} ${year}`;
    return `${dates} (${report.time_zone})`;
  }

  // ------------------------------------------------------------------ drawing
  // The axis maximum: at least 5 and the value, close above it, with round fifths.
  function niceMax(value) {
    if (value <= 5) return 5;
    if (value <= 10) return 10;
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
      if (step * magnitude >= value) return step * magnitude;
    }
    return 10 * magnitude;
  }
  function tickText(value) {
    return Number.isInteger(value) ? numbers.format(value) : value.toFixed(1);
  }
  function valueText(value) {
    return value === null || value === undefined ? "–" : numbers.format(value);
  }

  function newSvg(container, width, height, title) {
    const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width: String(width),
                               height: String(height), role: "img", "font-size": "12" });
    svg.appendChild(svgEl("title", {}, title));
    container.replaceChildren(svg);  // in the page, so text can be measured
    return svg;
  }

  // The legend's items, measured, in rows that fit [left, right]; returns its height.
  function drawLegend(svg, series, left, right) {
    const legend = svgEl("g", { class: "legend" });
    svg.appendChild(legend);
    let x = left, y = 4;
    for (const item of series) {
      const swatch = svgEl("rect", { x: 0, y: 0, width: 10, height: 10, fill: item.colour });
      const text = svgEl("text", { x: 0, y: 0 }, item.name);
      legend.append(swatch, text);
      const itemWidth = 14 + text.getBBox().width + 14;
      if (x > left && x + itemWidth > right) { x = left; y += 18; }
      swatch.setAttribute("x", x); swatch.setAttribute("y", y);
      text.setAttribute("x", x + 14); text.setAttribute("y", y + 9);
      x += itemWidth;
    }
    return y + 22;
  }

  // Lines of text centred on x, the first at y; the group is returned.
  function textLines(svg, attributes, parts) {
    const text = svgEl("text", attributes);
    parts.forEach((part, index) => {
      text.appendChild(svgEl("tspan", { x: attributes.x, dy: index ? "1.25em" : "0" }, part));
    });
    svg.appendChild(text);
    return text;
  }

  // Keep every step-th label, the smallest step of ``steps`` at which no two kept labels
  // come closer than GAP; the others are removed.
  // Labels with a short form ("1 Nov" for "Sat 1 Nov") take it when the long ones would
  // be more than two categories apart and the short ones can be closer.
  function thin(labels, pitch, steps) {
    if (!labels.length) return;
    const stepFor = () => {
      const widest = Math.max(...labels.map((label) => label.node.getBBox().width));
      return steps.find((s) => s * pitch >= widest + GAP) || Math.ceil((widest + GAP) / pitch);
    };
    let step = stepFor();
    if (step > 2 && labels.every((label) => label.short)) {
      const long = labels.map((label) => label.node.textContent);
      for (const label of labels) label.node.textContent = label.short;
      const shortStep = stepFor();
      if (shortStep < step) step = shortStep;
      else labels.forEach((label, i) => { label.node.textContent = long[i]; });
    }
    for (const label of labels) {
      if (label.index % step) label.node.remove();
    }
  }

  // Vertical bars, grouped per category: spec = {title, yTitle, xTitle: [lines],
  // categories: [{label, axisLabel}], series: [{name, colour, values}], steps}.
  function columnChart(container, spec) {
    const width = Math.max(300, Math.floor(container.clientWidth || 600));
    const height = Math.round(Math.min(380, Math.max(280, width * 0.4)));
    const right = 16, bottom = 70;
    const svg = newSvg(container, width, height, spec.title);
    const max = niceMax(Math.max(0, ...spec.series.flatMap((s) => s.values.map((v) => v || 0))));
    const yAxis = svgEl("g", { class: "y-axis" });
    svg.appendChild(yAxis);
    // The plot starts right of the widest value label and the axis title beside it.
    const probe = svgEl("text", {}, tickText(max));
    yAxis.appendChild(probe);
    const left = Math.ceil(probe.getBBox().width) + 36;
    probe.remove();
    const top = drawLegend(svg, spec.series, left, width - right);
    const plotWidth = width - left - right, plotHeight = height - top - bottom;
    for (let i = 0; i <= 5; i++) {
      const y = top + plotHeight - (plotHeight * i) / 5;
      yAxis.appendChild(svgEl("line", { x1: left, x2: width - right, y1: y, y2: y, stroke: i ? "#eee" : "#999" }));
      yAxis.appendChild(svgEl("text", { x: left - 6, y: y + 4, "text-anchor": "end", fill: "#555" },
                              tickText((max * i) / 5)));
    }
    yAxis.appendChild(svgEl("text", { x: 12, y: top + plotHeight / 2, fill: "#555",
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
        const bar = svgEl("rect", { x: (left + index * pitch + pitch * 0.1 + s * barWidth).toFixed(1),
                                    y: (top + plotHeight - h).toFixed(1), width: barWidth.toFixed(1),
                                    height: h.toFixed(1), fill: series.colour });
        const shownValue = series.values[index] === null ? "too few to show" : valueText(series.values[index]);
        bar.appendChild(svgEl("title", {}, `${category.label}, ${series.name}: ${shownValue}`));
        bars.appendChild(bar);
      });
    });
    svg.appendChild(bars);
    const axis = svgEl("g", { class: "x-axis" });
    svg.appendChild(axis);
    const labels = spec.categories.map((category, index) => {
      const x = left + index * pitch + pitch / 2;
      const node = svgEl("text", { class: "tick", x: x.toFixed(1), y: top + plotHeight + 22,
                                   "text-anchor": "middle", fill: "#333" }, category.axisLabel);
      axis.appendChild(node);
      return { node: node, index: index, short: category.shortLabel };
    });
    thin(labels, pitch, spec.steps || [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30]);
    textLines(axis, { class: "axis-title", x: width / 2, y: height - 30,
                      "text-anchor": "middle", fill: "#555" }, spec.xTitle);
  }

  // Horizontal bars, one row per category with its name at the left and each value at the
  // end of its bar: names of any length stay readable at any width.
  function rowChart(container, spec) {
    const width = Math.max(300, Math.floor(container.clientWidth || 600));
    const barHeight = 14, rowGap = 10, right = 56;
    const rowHeight = spec.series.length * (barHeight + 2) + rowGap;
    const rows = Math.max(1, spec.categories.length);
    const svg = newSvg(container, width, 80 + rows * rowHeight, spec.title);
    const top = drawLegend(svg, spec.series, 8, width - 8);
    const names = svgEl("g", { class: "y-axis" });
    svg.appendChild(names);
    const nameWidth = Math.min(width * 0.4, 16 + Math.max(0, ...spec.categories.map((category) => {
      const probe = svgEl("text", {}, category.axisLabel);
      names.appendChild(probe);
      const measured = probe.getBBox().width;
      probe.remove();
      return measured;
    })));
    const left = 8 + nameWidth;
    const plotWidth = width - left - right;
    const plotHeight = rows * rowHeight;
    const height = top + plotHeight + 62;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("height", String(height));
    const max = niceMax(Math.max(0, ...spec.series.flatMap((s) => s.values.map((v) => v || 0))));
    const axis = svgEl("g", { class: "x-axis" });
    svg.appendChild(axis);
    // As many steps as fit 60 px apart, of a whole size (4,000 in fours, not thirds).
    const ticks = [5, 4, 2, 1].find((t) => t * 60 <= plotWidth && Number.isInteger(max / t)) || 1;
    for (let i = 0; i <= ticks; i++) {
      const x = left + (plotWidth * i) / ticks;
      axis.appendChild(svgEl("line", { x1: x, x2: x, y1: top, y2: top + plotHeight, stroke: i ? "#eee" : "#999" }));
      axis.appendChild(svgEl("text", { class: "tick", x: x, y: top + plotHeight + 14, "text-anchor": "middle",
                                       fill: "#555" }, tickText((max * i) / ticks)));
    }
    const bars = svgEl("g", { class: "bars" });
    svg.appendChild(bars);
    spec.categories.forEach((category, index) => {
      const rowTop = top + index * rowHeight + rowGap / 2;
      const named = svgEl("g", {});
      named.appendChild(svgEl("title", {}, category.label));  // the whole name, on hover
      const name = svgEl("text", { x: left - 8, y: rowTop + (rowHeight - rowGap) / 2 + 4,
                                   "text-anchor": "end", fill: "#333" }, category.axisLabel);
      named.appendChild(name);
      names.appendChild(named);
      let text = category.axisLabel;
      while (name.getBBox().width > nameWidth - 8 && text.length > 4) {  // long ids end in "…"
        text = text.slice(0, -2);
        name.textContent = `${text}…`;
      }
      spec.series.forEach((series, s) => {
        const value = series.values[index];
        if (value === undefined) return;  // not a figure this row has (a camera's plays)
        const y = rowTop + s * (barHeight + 2);
        const w = (plotWidth * (value || 0)) / max;
        const bar = svgEl("rect", { x: left, y: y, width: w.toFixed(1), height: barHeight, fill: series.colour });
        const said = value === null || value === undefined ? "too few to show" : valueText(value);
        bar.appendChild(svgEl("title", {}, `${category.label}, ${series.name}: ${said}`));
        bars.appendChild(bar);
        bars.appendChild(svgEl("text", { class: "value", x: (left + w + 4).toFixed(1), y: y + 11,
                                         "font-size": "11", fill: "#333" }, valueText(value)));
      });
    });
    textLines(axis, { class: "axis-title", x: width / 2, y: height - 28,
                      "text-anchor": "middle", fill: "#555" }, spec.xTitle);
  }

  function figure(id, caption, wide, note) {
    const node = el("figure", { id: id, class: wide ? "wide" : "" });
    node.appendChild(el("figcaption", {}, caption));
    if (note) node.appendChild(el("p", { class: "note" }, note));
    node.appendChild(el("div", { class: "chart" }));
    document.getElementById("charts").appendChild(node);
    return node.querySelector(".chart");
  }

  function totalsCard(label, value, before) {
    const card = el("div", { class: "total" });
    card.appendChild(el("small", {}, label));
    card.appendChild(el("b", {}, valueText(value)));
    if (typeof value === "number" && typeof before === "number") {
      let change = "same as the previous period";
      if (before === 0 && value > 0) change = "new";
      else if (before !== 0) {
        const percent = Math.round((100 * (value - before)) / before);
        change = `${percent >= 0 ? "+" : "−"}${Math.abs(percent)} % on the previous period (${numbers.format(before)})`;
      }
      card.appendChild(el("small", { class: "change" }, change));
    }
    return card;
  }

  function draw() {
    const report = current;
    const dates = rangeLabel(report);
    const hourly = shown.to - shown.from <= 2 * DAY_MS + HOUR_MS;
    const names = report.bucket_names || {};
    document.getElementById("title").textContent = `Store dashboard: ${report.store}`;
    document.getElementById("range").textContent = dates;
    const before = previous ? previous.totals : {};
    document.getElementById("totals").replaceChildren(
      totalsCard("People (have left)", report.totals.people, before.people),
      totalsCard("Watchers (looked 1 s or more)", report.totals.watchers, before.watchers),
      totalsCard("Ads played", report.totals.impressions, before.impressions),
      totalsCard("Median time in front (s)", report.totals.dwell_s ? report.totals.dwell_s.median : null),
      totalsCard("Median time looking (s)", report.totals.looking_s ? report.totals.looking_s.median : null),
    );
    document.getElementById("charts").replaceChildren();

    const blank = (rows, unit) => (rows.some((row) => row.people === null)
      ? `${unit} of fewer than ${report.min_cell_count} people are left blank (they count in the totals)`
      : "");
    if (hourly) {
      const hours = report.hours;
      const oneDay = hours[0].hour.slice(0, 10) === hours[hours.length - 1].hour.slice(0, 10);
      columnChart(figure("people-over-time", "People and watchers by hour", true, blank(hours, "Hours")), {
        title: `People and watchers by hour, ${dates}`,
        categories: hours.map((row) => ({
          label: `${dateLabel(row.hour.slice(0, 10))} ${row.hour.slice(11, 16)}`,
          axisLabel: oneDay || row.hour.slice(11, 13) !== "00" ? row.hour.slice(11, 16)
            : dateLabel(row.hour.slice(0, 10)).slice(4),  // a new day: "4 Nov", as wide as 00:00
        })),
        series: [
          { name: "People", colour: COLOURS.people, values: hours.map((r) => r.people) },
          { name: "Watchers", colour: COLOURS.watchers, values: hours.map((r) => r.watchers) },
        ],
        steps: [1, 2, 3, 4, 6, 12, 24],
        yTitle: "people", xTitle: [`hour of the day (${report.time_zone})`, dates],
      });
    } else {
      const days = report.days;
      columnChart(figure("people-over-time", "People and watchers by day", true, blank(days, "Days")), {
        title: `People and watchers by day, ${dates}`,
        categories: days.map((row) => ({ label: dateLabel(row.day), axisLabel: dateLabel(row.day),
                                         shortLabel: dateLabel(row.day).slice(4) })),
        series: [
          { name: "People", colour: COLOURS.people, values: days.map((r) => r.people) },
          { name: "Watchers", colour: COLOURS.watchers, values: days.map((r) => r.watchers) },
        ],
        steps: [1, 2, 7, 14],
        yTitle: "people", xTitle: ["day", dates],
      });
      const byWeekday = WEEKDAYS.map(() => 0);
      const beforeWeekday = WEEKDAYS.map(() => 0);
      for (const row of days) byWeekday[weekdayIndex(row.day)] += row.people || 0;
      for (const row of previous ? previous.days : []) beforeWeekday[weekdayIndex(row.day)] += row.people || 0;
      columnChart(figure("people-by-weekday", "People by day of the week"), {
        title: `People by day of the week, ${dates}`,
        categories: WEEKDAYS.map((d) => ({ label: d, axisLabel: d })),
        series: [
          { name: "People", colour: COLOURS.people, values: byWeekday },
          { name: "People, previous period", colour: COLOURS.previous, values: beforeWeekday },
        ],
        yTitle: "people", xTitle: ["day of the week", dates],
      });
    }

    const buckets = Object.keys(report.by_bucket);
    const figures = buckets.map((b) => report.by_bucket[b]);
    const bucketRows = buckets.map((b) => ({ label: names[b] || b, axisLabel: names[b] || b }));
    rowChart(figure("people-by-bucket", "People and watchers by audience"), {
      title: `People and watchers by audience, ${dates}`, categories: bucketRows,
      series: [
        { name: "People", colour: COLOURS.people, values: figures.map((f) => f.people) },
        { name: "Watchers", colour: COLOURS.watchers, values: figures.map((f) => f.watchers) },
      ],
      xTitle: ["people", dates],
    });
    rowChart(figure("impressions-by-bucket", "Ads played, by the audience they were chosen for"), {
      title: `Ads played by audience, ${dates}`, categories: bucketRows,
      series: [{ name: "Ads played", colour: COLOURS.impressions, values: figures.map((f) => f.impressions) }],
      xTitle: ["plays", dates],
    });
    const quantile = (f, field, q) => (f[field] ? f[field][q] : null);
    rowChart(figure("durations-by-bucket", "Time in front and time looking, by audience"), {
      title: `Time in front and looking by audience, ${dates}`, categories: bucketRows,
      series: [
        { name: "In front, median", colour: COLOURS.dwell, values: figures.map((f) => quantile(f, "dwell_s", "median")) },
        { name: "In front, 90th percentile", colour: "#c5b0d5", values: figures.map((f) => quantile(f, "dwell_s", "p90")) },
        { name: "Looking, median", colour: COLOURS.looking, values: figures.map((f) => quantile(f, "looking_s", "median")) },
        { name: "Looking, 90th percentile", colour: "#ff9896", values: figures.map((f) => quantile(f, "looking_s", "p90")) },
      ],
      xTitle: ["seconds", dates],
    });
    const spread = report.totals.distributions;
    if (spread) {
      const edges = spread.edges_s;
      const binLabel = (i) => (i === 0 ? "0 s" : i === edges.length ? `> ${edges[i - 1]} s`
        : `${edges[i - 1]}–${edges[i]} s`);
      columnChart(figure("duration-distributions", "How long people stayed and looked", true), {
        title: `How long people stayed and looked, ${dates}`,
        categories: spread.dwell.map((_, i) => ({ label: binLabel(i), axisLabel: binLabel(i) })),
        series: [
          { name: "People by time in front", colour: COLOURS.dwell, values: spread.dwell },
          { name: "People by time looking", colour: COLOURS.looking, values: spread.looking },
        ],
        yTitle: "people", xTitle: ["seconds in front of the screen, or looking at it", dates],
      });
    }
    const ads = Object.keys(report.by_ad || {});
    rowChart(figure("audience-by-ad", "Plays and audience per ad (people present while it played)"), {
      title: `Plays and audience per ad, ${dates}`,
      categories: ads.map((ad) => ({ label: ad, axisLabel: ad })),
      series: [
        { name: "Plays", colour: COLOURS.impressions, values: ads.map((a) => report.by_ad[a].impressions) },
        { name: "People present", colour: COLOURS.people, values: ads.map((a) => report.by_ad[a].audience_people) },
        { name: "Watchers present", colour: COLOURS.watchers, values: ads.map((a) => report.by_ad[a].audience_watchers) },
      ],
      xTitle: ["count", dates],
    });
    const displays = Object.keys(report.by_display);
    const cameras = Object.keys(report.by_camera);
    rowChart(figure("by-place", "Plays by display, people by camera"), {
      title: `Plays by display and people by camera, ${dates}`,
      categories: [...displays, ...cameras].map((p) => ({ label: p, axisLabel: p })),
      series: [
        { name: "Plays", colour: COLOURS.impressions,
          values: [...displays.map((d) => report.by_display[d].impressions), ...cameras.map(() => undefined)] },
        { name: "People", colour: COLOURS.people,
          values: [...displays.map(() => undefined), ...cameras.map((c) => report.by_camera[c].people)] },
      ],
      xTitle: ["count", dates],
    });
    document.getElementById("privacy").textContent =
      `Figures of fewer than ${report.min_cell_count} people are not shown ("–"), ` +
      `${report.suppressed_cells} this period; totals always are.`;
  }

  // ------------------------------------------------------------------ right now
  function drawNow(now) {
    const cards = [];
    for (const [display, figures] of Object.entries(now.displays)) {
      const card = el("div", { class: "total now", "data-display": display });
      card.appendChild(el("small", {}, `In front of ${display} now`));
      card.appendChild(el("b", {}, numbers.format(figures.present)));
      card.appendChild(el("small", {}, `${numbers.format(figures.looking)} looking at the screen`));
      cards.push(card);
    }
    const left = el("div", { class: "total", id: "left-today" });
    left.appendChild(el("small", {}, "Have left today"));
    left.appendChild(el("b", {}, numbers.format(now.left_today)));
    left.appendChild(el("small", {}, "counted when they walk away"));
    cards.push(left);
    document.getElementById("now-cards").replaceChildren(...cards);
    const at = new Date(Date.parse(now.at));
    const clock = new Intl.DateTimeFormat("en-GB", { timeZone: timeZone, hour: "2-digit", minute: "2-digit",
                                                     second: "2-digit" }).format(at);
    document.getElementById("now-at").textContent = now.tracking
      ? `at ${clock}, updated every ${NOW_EVERY_MS / 1000} s`
      : "this server reads no tracks: nobody is shown in view";
  }

  async function refreshNow() {
    try {
      const now = await api(`/v1/stores/${encodeURIComponent(store)}/now`);
      drawNow(now);
      document.getElementById("now").dataset.state = "ready";
      // Someone left since the report was read: when the range covers today, read it again.
      if (leftToday !== null && now.left_today !== leftToday && shown && shown.to > Date.now()) {
        await load(shown);
      }
      leftToday = now.left_today;
    } catch (error) {
      document.getElementById("now-at").textContent = `not available just now (${error.message})`;
    }
  }

  // ------------------------------------------------------------------ data
  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(`${response.status}: ${body.message || response.statusText}`);
    }
    return response.json();
  }

  function reportPath(fromMs, toMs) {
    return `/v1/stores/${encodeURIComponent(store)}/report?from=${fromMs}&to=${toMs}`;
  }

  function csv(report) {
    const buckets = Object.keys(report.by_bucket);
    const names = report.bucket_names || {};
    const quote = (value) => `"${String(value).replace(/"/g, '""')}"`;
    const lines = [["hour", "people", "watchers", "impressions",
                    ...buckets.map((b) => `people ${names[b] || b}`),
                    ...buckets.map((b) => `impressions ${names[b] || b}`)]];
    for (const row of report.hours) {
      const impressions = Object.values(row.impressions).reduce((a, b) => a + b, 0);
      lines.push([row.hour, row.people ?? "", row.watchers ?? "", impressions,
                  ...buckets.map((b) => row.audience[b] ?? ""),
                  ...buckets.map((b) => row.impressions[b] ?? 0)]);
    }
    return lines.map((line) => line.map(quote).join(",")).join("\r\n") + "\r\n";
  }

  function say(text) {
    document.getElementById("status").textContent = text;
  }

  function fail(text) {
    document.body.dataset.state = "error";
    say(text);
  }

  async function load(range) {
    if (!(range.to > range.from)) throw new Error("the range's end must be after its start");
    if (range.to - range.from > MAX_DAYS * DAY_MS + HOUR_MS) {
      throw new Error(`a range may span at most ${MAX_DAYS} days`);
    }
    const report = await api(reportPath(range.from, range.to));
    const span = range.to - range.from;
    previous = await api(reportPath(range.from - span, range.from)).catch(() => null);
    current = report;
    shown = range;
    draw();
    const chart = document.getElementById("chart-link");
    chart.href = `/stores/${encodeURIComponent(store)}/report#token=${encodeURIComponent(token)}` +
      `&from=${range.from}&to=${range.to}`;
  }

  // ------------------------------------------------------------------ the range control
  function setFragment(entries) {
    const next = new URLSearchParams({ token: token, ...entries });
    history.replaceState(null, "", `#${next.toString()}`);
    for (const name of ["range", "from", "to"]) params.delete(name);
    for (const [name, value] of Object.entries(entries)) params.set(name, value);
  }

  function markChosen(name) {
    for (const button of document.querySelectorAll("#ranges button[data-range]")) {
      button.setAttribute("aria-pressed", String(button.dataset.range === name));
    }
    document.getElementById("custom").hidden = name !== "custom";
  }

  async function choose(entries) {
    setFragment(entries);
    const range = wantedRange();
    markChosen(range.name);
    document.body.dataset.state = "loading";
    say("");
    try {
      await load(range);
      document.body.dataset.state = "ready";
    } catch (error) {
      fail(`The report could not be read (${error.message})`);
    }
  }

  function rangeControl() {
    const nav = document.getElementById("ranges");
    for (const [name, label] of Object.entries({ ...RANGES, custom: "Custom…" })) {
      const button = el("button", { type: "button", "data-range": name, "aria-pressed": "false" }, label);
      button.addEventListener("click", () => {
        if (name === "custom") { markChosen("custom"); return; }
        choose({ range: name });
      });
      nav.insertBefore(button, document.getElementById("custom"));
    }
    const form = document.getElementById("custom");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const from = document.getElementById("custom-from").value;
      const to = document.getElementById("custom-to").value || from;
      if (!from) { say("Choose the first day of the range"); return; }
      choose({ from: from, to: to });
    });
  }

  async function main() {
    if (!token) {
      fail("No operator token: open this page as /stores/{store}/dashboard#token=OPERATOR_TOKEN " +
           "(the local stack prints this link when it starts).");
      return;
    }
    rangeControl();
    try {
      const now = await api(`/v1/stores/${encodeURIComponent(store)}/now`);
      timeZone = now.time_zone;
      leftToday = now.left_today;
      drawNow(now);
      document.getElementById("now").dataset.state = "ready";
    } catch (error) {
      fail(`The store could not be read (${error.message}): is the token an operator's?`);
      return;
    }
    const range = wantedRange();
    markChosen(range.name);
    const today = storeDay(Date.now());
    document.getElementById("custom-from").value = range.name === "custom" ? storeDay(range.from) : addDays(today, -6);
    document.getElementById("custom-to").value = range.name === "custom" ? storeDay(range.to - 1) : today;
    try {
      await load(range);
    } catch (error) {
      fail(`The report could not be read (${error.message})`);
      return;
    }
    setInterval(refreshNow, NOW_EVERY_MS);
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
      if (window.innerWidth !== width && current) { width = window.innerWidth; draw(); }
    });
    document.body.dataset.state = "ready";
  }

  main();
})();
