// The job page, live (web/job_pages.py renders it).
//
// One EventSource on the job's stream, resumed after the last event the page shows.
// When it fails, the page closes it and opens a new one itself after 2 s, 4 s, then 8 s
// (passing the last event id seen, so the replay neither misses nor repeats an event);
// after those, it polls the job's snapshot with its ETag instead.
//
// Whatever says the job changed (an event, a changed snapshot), the page fetches the
// server-rendered panel (/jobs/{id}/panel?after=<last log line shown>) and swaps it in:
// one template draws the page, and no event text ever goes through innerHTML here.
(function () {
  "use strict";

  const BACKOFF_S = [2, 4, 8];
  const TERMINAL = new Set(["job_completed", "job_failed", "job_cancelled"]);
  const EVENT_TYPES = [
    "job_created", "step_started", "step_progress", "step_completed",
    "topic_started", "topic_progress", "topic_completed", "log",
    "job_completed", "job_failed", "job_cancelled",
  ];
  const FINISHED = new Set(["completed", "failed", "cancelled"]);
  const STICK_PX = 24; // within this of the bottom, the log follows new lines

  const root = document.getElementById("job");
  if (!root) {
    return;
  }
  root.classList.add("js"); // shows what only works with this script (actions, indicator)
  const jobId = root.dataset.jobId;
  const pollSeconds = Number(root.dataset.pollSeconds) || 5;
  const indicator = document.getElementById("connection");
  const logBox = document.getElementById("job-log");
  const logLines = document.getElementById("job-log-lines");
  const actionMessage = document.getElementById("job-action-message");

  let lastEventId = root.dataset.lastEventId || "";
  let source = null;
  let failures = 0;
  let retryTimer = null;
  let pollTimer = null;
  let etag = null;

  function showConnection(state, text) {
    indicator.dataset.state = state;
    indicator.textContent = text;
  }

  function csrfToken() {
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    return headers["X-CSRFToken"] || "";
  }

  function panel() {
    return document.getElementById("job-panel");
  }

  function isFinished() {
    return panel().dataset.finished === "true";
  }

  // --- drawing: the server's panel, and the log lines the page lacks -------------------

  function lastLogId() {
    const last = logLines.lastElementChild;
    return last ? Number(last.dataset.eventId) : 0;
  }

  function appendLogLines(lines) {
    const follow = logBox.scrollHeight - logBox.scrollTop - logBox.clientHeight < STICK_PX;
    for (const line of Array.from(lines)) {
      if (Number(line.dataset.eventId) > lastLogId()) {
        logLines.appendChild(line);
      }
    }
    if (follow) {
      logBox.scrollTop = logBox.scrollHeight;
    }
  }

  async function loadPanel() {
    const response = await fetch(`/jobs/${jobId}/panel?after=${lastLogId()}`, {
      cache: "no-store",
    });
    if (!response.ok) {
      return;
    }
    const fragment = document.createElement("template");
    fragment.innerHTML = await response.text(); // server-rendered, autoescaped HTML
    const fresh = fragment.content.getElementById("job-panel");
    const newLines = fragment.content.getElementById("job-log-new");
    if (!fresh || !newLines) {
      return; // not the panel (a login page after the session ended)
    }
    panel().replaceWith(fresh);
    appendLogLines(newLines.children);
  }

  // One fetch at a time; whatever changes meanwhile asks for one more after it.
  let refreshing = null;
  let refreshAgain = false;

  function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    refreshing = loadPanel()
      .catch(() => undefined) // offline: the stream's or the poll's retry covers it
      .finally(() => {
        refreshing = null;
        if (refreshAgain) {
          refreshAgain = false;
          refresh();
        }
      });
    return refreshing;
  }

  // --- the event stream, reopened with backoff ------------------------------------------

  function streamUrl() {
    const base = `/api/jobs/${jobId}/events`;
    return lastEventId ? `${base}?last_event_id=${encodeURIComponent(lastEventId)}` : base;
  }

  function connect() {
    retryTimer = null;
    source = new EventSource(streamUrl());
    source.onopen = () => {
      failures = 0;
      showConnection("connected", "Connected");
    };
    source.onerror = onStreamError;
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, onEvent);
    }
  }

  function closeStream() {
    if (source) {
      source.close();
      source = null;
    }
  }

  function onEvent(event) {
    if (event.lastEventId) {
      lastEventId = event.lastEventId;
    }
    if (TERMINAL.has(event.type)) {
      closeStream();
      showConnection("ended", "Finished: live updates stopped");
    }
    refresh();
  }

  function onStreamError() {
    // The browser would retry on its own, at its own pace: the page keeps the schedule.
    closeStream();
    // A stream can end without the job's last event (retention removed it): a job the
    // panel shows finished needs no reconnecting.
    refresh().then(() => {
      if (isFinished()) {
        showConnection("ended", "Finished: live updates stopped");
      } else {
        reconnectLater();
      }
    });
  }

  function reconnectLater() {
    if (failures >= BACKOFF_S.length) {
      startPolling();
      return;
    }
    const wait = BACKOFF_S[failures];
    failures += 1;
    showConnection("reconnecting", `Reconnecting… (attempt ${failures} in ${wait} s)`);
    retryTimer = setTimeout(connect, wait * 1000);
  }

  // --- the polling fallback --------------------------------------------------------------

  function startPolling() {
    showConnection("polling", `Live updates unavailable — refreshing every ${pollSeconds} s`);
    poll();
  }

  async function poll() {
    pollTimer = null;
    try {
      const headers = etag ? { "If-None-Match": etag } : {};
      const response = await fetch(`/api/jobs/${jobId}`, { headers, cache: "no-store" });
      if (response.status === 200) {
        etag = response.headers.get("ETag");
        const job = await response.json();
        await refresh();
        if (FINISHED.has(job.status)) {
          showConnection("ended", "Finished: updates stopped");
          return;
        }
      }
    } catch (error) {
      // Unreachable for now: the next poll tries again.
    }
    pollTimer = setTimeout(poll, pollSeconds * 1000);
  }

  function stopPolling() {
    if (pollTimer) {
      clearTimeout(pollTimer);
      pollTimer = null;
    }
  }

  function follow() {
    stopPolling();
    if (retryTimer) {
      clearTimeout(retryTimer);
      retryTimer = null;
    }
    closeStream();
    failures = 0;
    etag = null;
    showConnection("connecting", "Connecting…");
    connect();
  }

  // --- Cancel and Retry ------------------------------------------------------------------

  async function act(button) {
    const action = button.dataset.action;
    button.disabled = true;
    actionMessage.textContent = "";
    let ok = false;
    try {
      const response = await fetch(`/api/jobs/${jobId}/${action}`, {
        method: "POST",
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      });
      ok = response.ok;
      if (!ok) {
        const body = await response.json().catch(() => ({}));
        actionMessage.textContent = body.detail || `${action} failed (${response.status})`;
      }
    } catch (error) {
      actionMessage.textContent = `Could not reach the server to ${action} the job.`;
    }
    await refresh();
    if (ok && action === "retry") {
      follow(); // the job runs again: its new events come after the ones shown
    }
  }

  root.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button && root.contains(button)) {
      act(button);
    }
  });

  if (isFinished()) {
    showConnection("ended", "Finished: no live updates needed");
  } else {
    follow();
  }
})();
