// The display player's code, loaded by /display/{id} (adserver/player.html says what it does).
"use strict";
(() => {
  const params = new URLSearchParams(location.hash.slice(1) || location.search.slice(1));
  const token = params.get("token") || "";
  const displayId = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop());
  // The page's own origin: its Content-Security-Policy lets it call no other.
  const base = `${location.origin}/v1/displays/${encodeURIComponent(displayId)}`;
  const stage = document.getElementById("stage");
  const notice = document.getElementById("notice");

  let etag = null;          // of the latest next-ad answer, sent back as If-None-Match
  let latest = null;        // the latest decision from the API
  let playing = null;       // {ad, startedAt, ticket}
  let pollMs = 2000;        // from Cache-Control max-age
  let failures = 0;
  let endTimer = null;
  const preloaded = new Map();  // creative_url -> element already loading or loaded
  const REFUSED_POLL_MS = 60000;  // a refused token is rechecked this often
  const PLAY_MAX_AGE_MS = 24 * 3600 * 1000;  // a play's ticket is good for a day
  const PLAYS_KEPT = 5000;  // at most this many unsent plays are kept (the newest)
  const TICKET_WAIT_MS = 1500;  // how long a finished play waits for the next play's ticket
  // Each play is reported with the ticket of the answer it showed, and a ticket serves one
  // play: the server vouches only for plays it decided. A play shown again before a new
  // answer came (the API unreachable) has none and is not reported.
  const usedTickets = new Set();
  let waitingForTicket = false;

  // Impressions waiting for the API, kept in localStorage until it has them.
  const storeKey = `player-unsent-plays:${displayId}`;
  const unsent = loadUnsent();

  function loadUnsent() {
    try {
      const kept = JSON.parse(localStorage.getItem(storeKey) || "[]");
      const oldest = Date.now() - PLAY_MAX_AGE_MS;
      // Plays kept by a player from before tickets cannot be vouched for: dropped.
      return Array.isArray(kept)
        ? kept.filter((play) => play.ticket && play.started_at_ms >= oldest)
        : [];
    } catch (error) {
      return [];  // storage disabled or its content unreadable: start empty
    }
  }

  function saveUnsent() {
    unsent.splice(0, Math.max(0, unsent.length - PLAYS_KEPT));
    try {
      localStorage.setItem(storeKey, JSON.stringify(unsent));
    } catch (error) {
      // Storage full or disabled: the plays stay in memory until sent.
    }
  }

  const say = (text) => { notice.textContent = text; };
  // The API's reason starts with "default" whenever it chose the default creative.
  const isDefault = (ad) => /^default/.test(ad.reason || "");

  function creativeElement(ad) {
    const kind = /\.(mp4|webm|ogg|mov)(\?|$)/i.test(ad.creative_url) ? "video" : "img";
    const element = document.createElement(kind);
    if (kind === "video") {
      element.muted = true; element.playsInline = true; element.loop = true; element.preload = "auto";
    } else {
      element.alt = "";  // decorative: an ad id such as "senior-female" names the audience
      element.decoding = "async";
    }
    element.src = ad.creative_url;
    return element;
  }

  // Start loading the creative that will play next, so the switch shows it at once.
  function preload(ad) {
    if (preloaded.has(ad.creative_url)) return;
    preloaded.clear();  // only the latest decision is worth keeping
    preloaded.set(ad.creative_url, creativeElement(ad));
    document.body.dataset.preloaded = ad.ad_id;
  }

  function show(ad) {
    const element = preloaded.get(ad.creative_url) || creativeElement(ad);
    preloaded.delete(ad.creative_url);
    if (element.tagName === "VIDEO") element.play().catch(() => {});
    stage.replaceChildren(element);
    const ticket = ad.ticket && !usedTickets.has(ad.ticket) ? ad.ticket : null;
    if (ticket) usedTickets.add(ticket);
    playing = { ad, startedAt: Date.now(), ticket };
    document.body.dataset.adId = ad.ad_id;
    document.body.dataset.state = "playing";
    clearTimeout(endTimer);
    endTimer = setTimeout(onEnded, ad.duration_s * 1000);
  }

  // Report a play; the promise settles once the API has it (or will not take it).
  function record(play, until) {
    if (!play.ticket) return Promise.resolve();
    unsent.push({
      ticket: play.ticket,
      ad_id: play.ad.ad_id,
      started_at_ms: play.startedAt,
      duration_s: Math.round((until - play.startedAt) / 100) / 10,
    });
    saveUnsent();
    return flush();
  }

  // One sender at a time, or a play could be posted twice; a play added while it runs is
  // sent by it, so the promise of the running sender is the one to wait for.
  let flushing = null;
  function flush() {
    if (!flushing) flushing = sendUnsent().finally(() => { flushing = null; });
    return flushing;
  }

  async function sendUnsent() {
    while (unsent.length) {
      try {
        const response = await fetch(`${base}/impressions`, {
          method: "POST",
          headers: { "Authorization": `Bearer ${token}`, "Content-Type": "application/json" },
          body: JSON.stringify(unsent[0]),
        });
        // 5xx and network errors wait; so does a refused token (a new one can send them).
        if (response.status >= 500 || response.status === 401 || response.status === 403) return;
        // Recorded, or a 4xx that will not get better by retrying: done with it either way.
        unsent.shift();
        saveUnsent();
        if (response.ok) {
          document.body.dataset.impressions = String(Number(document.body.dataset.impressions || 0) + 1);
        }
      } catch (error) {
        return;
      }
    }
  }

  // A play ended: report it and start the next with a new ticket. Once the API has the
  // play, the next answer carries a new ticket; if none comes in TICKET_WAIT_MS (the API
  // is away), the screen goes on with the latest answer, unreported.
  async function onEnded() {
    if (!playing) return;
    const ended = playing;
    playing = null;
    const reported = record(ended, Date.now());
    if (latest && latest.ticket && usedTickets.has(latest.ticket)) {
      waitingForTicket = true;
      const waited = new Promise((resolve) => setTimeout(resolve, TICKET_WAIT_MS));
      const asked = reported.then(() => askNextAd()).catch(() => {});
      await Promise.race([asked, waited]);
      waitingForTicket = false;
    }
    // The same ad again is a new play; a screen refused meanwhile stays cleared.
    if (!playing && document.body.dataset.state !== "refused") show(latest || ended.ad);
  }

  function consider(ad) {
    latest = ad;
    if (!playing) {
      // Between plays, waiting for a new ticket: an answer still carrying the used one waits.
      if (!waitingForTicket || !usedTickets.has(ad.ticket)) show(ad);
      return;
    }
    // The default creative only fills time: cut it short as soon as someone is there.
    if (ad.ad_id !== playing.ad.ad_id && isDefault(playing.ad) && !isDefault(ad)) {
      record(playing, Date.now());
      show(ad);
    } else if (ad.creative_url !== playing.ad.creative_url) {
      preload(ad);
    }
  }

  // The API will not serve this display with this token: stop showing ads and say why,
  // full screen, in words for whoever looks after the store.
  function refuse(status) {
    clearTimeout(endTimer);
    if (playing) record(playing, Date.now());
    playing = null;
    latest = null;
    etag = null;
    preloaded.clear();
    stage.replaceChildren();
    document.body.dataset.state = "refused";
    delete document.body.dataset.adId;
    say(status === 404
      ? `This display (${displayId}) is not registered. Ask the store's operator to add it.`
      : "This display's token was refused: it is wrong or has been revoked. "
        + "Ask the store's operator for a new player link.");
  }

  // One next-ad request, its answer acted on; how long to wait before the next.
  async function askNextAd() {
    const headers = { "Authorization": `Bearer ${token}` };
    if (etag) headers["If-None-Match"] = etag;
    const response = await fetch(`${base}/next-ad`, { headers, cache: "no-store" });
    const maxAge = /max-age=(\d+)/.exec(response.headers.get("Cache-Control") || "");
    if (maxAge) pollMs = Math.max(1000, Number(maxAge[1]) * 1000);
    if (response.status === 401 || response.status === 403 || response.status === 404) {
      refuse(response.status);
      return REFUSED_POLL_MS;
    }
    if (response.status === 200) {
      etag = response.headers.get("ETag");
      if (document.body.dataset.state === "refused") document.body.dataset.state = "starting";
      consider(await response.json());
      failures = 0;
      say("");
    } else if (response.status === 304) {
      failures = 0;
      document.body.dataset.notModified = String(Number(document.body.dataset.notModified || 0) + 1);
    } else {
      throw new Error(`next-ad: HTTP ${response.status}`);
    }
    return pollMs;
  }

  async function poll() {
    let waitMs;
    try {
      waitMs = await askNextAd();
      if (waitMs !== REFUSED_POLL_MS) flush();
    } catch (error) {
      failures += 1;
      waitMs = Math.min(30000, pollMs * 2 ** failures);
      document.body.dataset.state = playing ? "playing" : "error";
      say(`${error.message}; retrying in ${Math.round(waitMs / 1000)} s`);
    }
    setTimeout(poll, waitMs);
  }

  if (!token) {  // the same full screen as a refused token: whoever set it up must see it
    document.body.dataset.state = "refused";
    say(`This display (${displayId}) has no token. Open the player link from the store's `
        + "operator, which ends in #token=...");
  } else {
    poll();
    flush();  // plays kept from before a reload
  }
})();
