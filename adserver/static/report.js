// The report chart page (adserver/report.html): reads the SVG from the report API with the
// operator token from the URL fragment, shows it in the page and offers it as a download.
"use strict";

(function () {
  const store = decodeURIComponent(location.pathname.split("/")[2] || "");
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token") || "";

  function fail(text) {
    document.body.dataset.state = "error";
    document.getElementById("status").textContent = text;
  }

  async function main() {
    if (!token) {
      fail("No operator token: open this page as /stores/{store}/report#token=OPERATOR_TOKEN&from=...&to=...");
      return;
    }
    const now = Date.now();
    const to = params.get("to") || String(now);
    const from = params.get("from") || String(now - 24 * 3600000);
    const query = new URLSearchParams({ from: from, to: to, format: "svg" });
    const response = await fetch(`/v1/stores/${encodeURIComponent(store)}/report?${query}`, {
      headers: { Authorization: `Bearer ${token}` }, cache: "no-store",
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      fail(`The report could not be read (${response.status}: ${body.message || response.statusText})`);
      return;
    }
    const text = await response.text();
    // Parsed as SVG and adopted into the page: no markup is written as HTML.
    const parsed = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
    document.getElementById("chart").replaceChildren(document.importNode(parsed, true));
    const link = document.getElementById("download");
    link.href = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
    link.download = `${store}-report.svg`;
    link.hidden = false;
    document.title = `Report chart: ${store}`;
    document.body.dataset.state = "ready";
  }

  main().catch((error) => fail(`The report could not be read (${error.message})`));
})();
