// The queue dashboard's live parts (templates/dashboard.html), in plain JavaScript.
//
// One EventSource per page, for every job the viewer may see, and only while it is
// useful: a shown row is active (or the wizard just queued a job) and the page is
// visible. An event re-fetches the row of its job (the server renders it from the same
// partial as the page) and swaps only that row; bursts for one row coalesce into at most
// one fetch in flight plus one trailing fetch. Also: the per-row log viewer, and what
// Cancel / Retry (htmx posts to the API) answered, said in the page's live region.
"use strict";

(function () {
  const table = document.getElementById("jobs");
  if (!table) return;
  const rows = document.getElementById("job-rows");
  const messages = document.getElementById("dashboard-messages");
  const eventTypes = table.dataset.eventTypes.split(" ");
  const TERMINAL = new Set(["job_completed", "job_failed", "job_cancelled"]);
  const pending = new Map(); // a fetch key -> {again: whether to fetch once more}
  let source = null;
  let lastEventId = table.dataset.lastEventId || null;
  let queuedJob = table.dataset.queued || null;

  // --- fetching fragments, coalesced per key ---------------------------------------

  function coalesced(key, work) {
    const running = pending.get(key);
    if (running) {
      running.again = true;
      return;
    }
    const entry = { again: false };
    pending.set(key, entry);
    work()
      .catch(function (error) {
        say("Could not refresh the page: " + error.message, true);
      })
      .finally(function () {
        pending.delete(key);
        if (entry.again) coalesced(key, work);
      });
  }

  async function fragment(url) {
    // HX-Request: an ended session answers HX-Redirect (to the login page), not a page.
    const response = await fetch(url, { headers: { "HX-Request": "true" } });
    const redirect = response.headers.get("HX-Redirect");
    if (redirect) {
      window.location.assign(redirect);
      return null;
    }
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(url + " answered " + response.status);
    return response.text();
  }

  function parsed(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // --- rows ------------------------------------------------------------------------

  function rowOf(jobId) {
    return document.getElementById("job-" + jobId);
  }

  function refreshRow(jobId, isNew) {
    coalesced("row:" + jobId, async function () {
      const current = rowOf(jobId);
      if (!current && !(isNew && table.dataset.insertNew === "true")) return;
      const html = await fragment("/jobs/" + jobId + "/row");
      if (html === null) return;
      const fresh = parsed(html);
      const shown = rowOf(jobId); // perhaps inserted meanwhile
      // A new status changes the counts, even when its event is not seen (the stream
      // closes as soon as no row is active, perhaps before the job's last event).
      if (!shown || shown.dataset.status !== fresh.dataset.status) refreshTabs();
      if (shown) {
        swap(shown, fresh);
      } else {
        const empty = rows.querySelector(".no-jobs");
        if (empty) empty.remove();
        rows.prepend(fresh);
      }
      window.htmx.process(fresh);
      if (logIsOpen(jobId)) refreshLog(jobId);
      updateStreaming();
    });
  }

  function swap(current, fresh) {
    const focused = current.contains(document.activeElement) ? focusKey(document.activeElement) : null;
    const logButton = current.querySelector("[data-log-url]");
    const freshLogButton = fresh.querySelector("[data-log-url]");
    if (logButton && freshLogButton && logButton.hasAttribute("aria-controls")) {
      freshLogButton.setAttribute("aria-controls", logButton.getAttribute("aria-controls"));
      freshLogButton.setAttribute("aria-expanded", logButton.getAttribute("aria-expanded"));
    }
    current.replaceWith(fresh);
    if (focused) (fresh.querySelector(focused) || fresh.querySelector("[data-log-url]")).focus();
  }

  // Which control of a row had the focus, to give it back after the swap.
  function focusKey(element) {
    if (element.dataset.jobAction) return '[data-job-action="' + element.dataset.jobAction + '"]';
    if (element.dataset.logUrl) return "[data-log-url]";
    return element.tagName === "A" ? 'a[href="' + element.getAttribute("href") + '"]' : null;
  }

  function refreshTabs() {
    coalesced("tabs", async function () {
      const html = await fragment(table.dataset.tabsUrl);
      const tabs = document.getElementById("job-tabs");
      if (html !== null && tabs) tabs.replaceWith(parsed(html));
    });
  }

  // --- the log viewer ----------------------------------------------------------------

  function logIsOpen(jobId) {
    const logRow = document.getElementById("log-" + jobId);
    return logRow !== null && !logRow.hidden;
  }

  function toggleLog(button) {
    const row = button.closest("tr");
    const jobId = row.dataset.jobId;
    const logRow = document.getElementById("log-" + jobId) || addLogRow(row);
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-controls", logRow.id);
    button.setAttribute("aria-expanded", String(open));
    logRow.hidden = !open;
    if (open) refreshLog(jobId);
  }

  function addLogRow(row) {
    const logRow = document.createElement("tr");
    logRow.id = "log-" + row.dataset.jobId;
    logRow.className = "log-row";
    const cell = document.createElement("td");
    cell.colSpan = row.cells.length;
    const body = document.createElement("div");
    body.className = "log-body";
    body.textContent = "Loading the log…";
    cell.append(body);
    logRow.append(cell);
    row.after(logRow);
    return logRow;
  }

  function refreshLog(jobId) {
    coalesced("log:" + jobId, async function () {
      const html = await fragment("/jobs/" + jobId + "/log");
      const logRow = document.getElementById("log-" + jobId);
      if (html === null || logRow === null) return;
      const body = logRow.querySelector(".log-body");
      const list = body.querySelector(".job-log");
      const atEnd = !list || list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
      body.innerHTML = html; // rendered by the server's autoescaping templates
      const fresh = body.querySelector(".job-log");
      if (fresh && atEnd) fresh.scrollTop = fresh.scrollHeight;
    });
  }

  // --- the event stream -------------------------------------------------------------

  function wanted() {
    const active = rows.querySelector('tr[data-active="true"]') !== null || queuedJob !== null;
    return active && document.visibilityState === "visible";
  }

  function updateStreaming() {
    if (wanted() && source === null) openStream();
    else if (!wanted() && source !== null) closeStream();
  }

  function openStream() {
    let url = table.dataset.streamUrl;
    if (lastEventId !== null) url += "?last_event_id=" + encodeURIComponent(lastEventId);
    source = new EventSource(url);
    for (const type of eventTypes) source.addEventListener(type, onEvent);
    source.addEventListener("error", function () {
      // EventSource reconnects by itself; CLOSED means it gave up (e.g. signed out).
      if (source !== null && source.readyState === EventSource.CLOSED) {
        source = null;
        say("Live updates stopped: reload the page to see the latest state.", true);
      }
    });
  }

  function closeStream() {
    source.close();
    source = null;
  }

  function onEvent(event) {
    if (event.lastEventId) lastEventId = event.lastEventId;
    const jobId = JSON.parse(event.data).jobId;
    if (TERMINAL.has(event.type) && jobId === queuedJob) queuedJob = null;
    refreshRow(jobId, event.type === "job_created");
    if (event.type === "job_created" || TERMINAL.has(event.type)) refreshTabs();
  }

  document.addEventListener("visibilitychange", updateStreaming);

  // --- actions -------------------------------------------------------------------------

  function say(text, isError) {
    const line = document.createElement("p");
    line.className = isError ? "error" : "notice";
    line.textContent = text;
    messages.replaceChildren(line);
  }

  function answerOf(xhr) {
    try {
      return JSON.parse(xhr.responseText).detail || "status " + xhr.status;
    } catch {
      return xhr.status ? "the server answered " + xhr.status : "the server could not be reached";
    }
  }

  rows.addEventListener("click", function (event) {
    const button = event.target.closest("[data-log-url]");
    if (button) toggleLog(button);
  });

  document.body.addEventListener("htmx:afterRequest", function (event) {
    const button = event.detail.elt;
    if (!button.dataset || !button.dataset.jobAction) return;
    const row = button.closest("tr");
    const title = row.querySelector(".job-title a").textContent.trim();
    const verb = button.dataset.jobAction === "cancel" ? "Cancel" : "Retry";
    say(verb + " “" + title + "”: " + answerOf(event.detail.xhr), !event.detail.successful);
    refreshRow(row.dataset.jobId, false);
    refreshTabs();
  });

  updateStreaming();
})();
