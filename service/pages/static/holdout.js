// holdout pages: progressive enhancement only. Every form works without this script.
"use strict";

(function () {
  // The API is called with the session cookie; changes carry the session's CSRF token.
  const csrf = (document.querySelector('meta[name="holdout-csrf"]') || {}).content || "";
  const status = document.getElementById("status");

  function say(text) { if (status) { status.textContent = text; } }

  async function api(method, path, body) {
    const headers = { "X-CSRF-Token": csrf, "Accept": "application/json" };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    const response = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      throw new Error((data && data.detail) || ("The server answered " + response.status + "."));
    }
    return data;
  }

  // --- math ---------------------------------------------------------------------------------
  function typeset(root) {
    if (!window.katex) { return; }
    root.querySelectorAll(".math.inline, .math.block").forEach(function (el) {
      if (el.dataset.typeset) { return; }
      const tex = el.textContent;
      try {
        window.katex.render(tex, el, { displayMode: el.classList.contains("block"), throwOnError: false, output: "htmlAndMathml" });
        el.dataset.typeset = "1";
      } catch (e) { /* leave the TeX as it is */ }
    });
  }

  // --- the code editor: a textarea that indents ------------------------------------------------
  function enhanceEditor(area) {
    let tabMovesFocus = false;
    area.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { tabMovesFocus = true; return; }
      if (event.key === "Tab" && !tabMovesFocus && !event.ctrlKey && !event.altKey && !event.metaKey) {
        event.preventDefault();
        const start = area.selectionStart, end = area.selectionEnd, value = area.value;
        if (event.shiftKey) {
          const lineStart = value.lastIndexOf("\n", start - 1) + 1;
          const remove = value.slice(lineStart, lineStart + 4).match(/^ */)[0].length;
          area.setRangeText("", lineStart, lineStart + remove, "preserve");
          area.selectionStart = area.selectionEnd = Math.max(lineStart, start - remove);
        } else {
          area.setRangeText("    ", start, end, "end");
        }
        return;
      }
      if (event.key === "Enter" && !event.shiftKey && !event.ctrlKey) {
        const start = area.selectionStart, value = area.value;
        const lineStart = value.lastIndexOf("\n", start - 1) + 1;
        const line = value.slice(lineStart, start);
        let indent = line.match(/^ */)[0];
        if (/:\s*$/.test(line)) { indent += "    "; }
        event.preventDefault();
        area.setRangeText("\n" + indent, start, area.selectionEnd, "end");
        return;
      }
      tabMovesFocus = false;
    });
    area.addEventListener("blur", function () { tabMovesFocus = false; });
  }

  // --- submitting code and waiting for the grade ------------------------------------------------
  const LABELS = { queued: "Waiting to be graded…", running: "Grading…" };

  async function waitForGrade(id) {
    for (;;) {
      const submission = await api("GET", "/api/v1/submissions/" + id + "?wait=10");
      if (submission.status === "graded" || submission.status === "failed") { return submission; }
      say(LABELS[submission.status] || "Grading…");
    }
  }

  async function refreshFrom(url, ids) {
    const response = await fetch(url, { headers: { "Accept": "text/html" } });
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    ids.forEach(function (id) {
      const fresh = doc.getElementById(id), here = document.getElementById(id);
      if (fresh && here) { here.innerHTML = fresh.innerHTML; typeset(here); }
    });
  }

  function summary(s) {
    if (s.status === "failed") { return "Could not be graded: " + (s.feedback || "see the feedback below") + "."; }
    const passed = (s.tests || []).filter(function (t) { return t.passed; }).length;
    const tests = (s.tests || []).length ? " " + passed + " of " + s.tests.length + " tests passed." : "";
    return "Graded: " + s.score + " / " + s.max_score + " points." + tests;
  }

  async function follow(id, slug) {
    say("Waiting to be graded…");
    try {
      const graded = await waitForGrade(id);
      const url = "/app/questions/" + encodeURIComponent(slug) + "?submission=" + id;
      await refreshFrom(url, ["result", "history"]);
      say(summary(graded));
    } catch (error) {
      say("Could not get the result: " + error.message + " Reload the page to try again.");
    }
  }

  function enhanceSubmit(form) {
    const slug = form.dataset.apiSubmit;
    const area = form.querySelector("textarea");
    const button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", async function (event) {
      if (!csrf || !area) { return; }
      event.preventDefault();
      button.disabled = true;
      say("Submitting…");
      try {
        const submission = await api("POST", "/api/v1/questions/" + encodeURIComponent(slug) + "/submissions", { answer: area.value });
        history.replaceState(null, "", "?submission=" + submission.id);
        await follow(submission.id, slug);
      } catch (error) {
        say("Not submitted: " + error.message);
      } finally {
        button.disabled = false;
      }
    });
  }

  // A page opened on a submission still being graded follows it too.
  function followPending() {
    const form = document.querySelector("form[data-api-submit]");
    const pending = document.querySelector('.result[data-status="queued"], .result[data-status="running"]');
    if (form && pending && csrf) { follow(pending.dataset.submissionId, form.dataset.apiSubmit); }
    const list = document.querySelector("[data-pending]");
    if (list && csrf) {
      Promise.all(list.dataset.pending.split(",").map(waitForGrade)).then(function () {
        say("All answers are graded.");
        return refreshFrom(location.href, ["main"]);
      }).catch(function (error) { say("Could not get the results: " + error.message); });
    }
  }

  // --- instructor buttons ------------------------------------------------------------------------
  function enhanceRegrade(button) {
    button.addEventListener("click", async function () {
      button.disabled = true;
      const slug = button.dataset.regrade;
      say("Regrading " + slug + "…");
      try {
        let regrade = await api("POST", "/api/v1/questions/" + encodeURIComponent(slug) + "/regrades", {});
        while (regrade.status !== "done" && regrade.status !== "failed") {
          say("Regrading " + slug + ": " + regrade.done + " of " + regrade.total + " done…");
          await new Promise(function (r) { setTimeout(r, 1000); });
          regrade = await api("GET", "/api/v1/regrades/" + regrade.id);
        }
        say("Regrade of " + slug + " finished: " + regrade.total + " submissions, " + regrade.changed + " scores changed.");
      } catch (error) {
        say("Regrade failed: " + error.message);
      } finally {
        button.disabled = false;
      }
    });
  }

  function enhanceExport(button) {
    button.addEventListener("click", async function () {
      const slug = button.dataset.export;
      say("Preparing the CSV…");
      try {
        const response = await fetch("/api/v1/courses/" + encodeURIComponent(slug) + "/gradebook.csv",
                                     { credentials: "same-origin" });
        if (!response.ok) { throw new Error("the server answered " + response.status); }
        const url = URL.createObjectURL(await response.blob());
        const link = document.createElement("a");
        link.href = url;
        link.download = slug + "-gradebook.csv";
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
        say("The gradebook was downloaded.");
      } catch (error) {
        say("Export failed: " + error.message);
      }
    });
  }

  // The time left in an attempt; at zero the page reloads, and the server shows it handed in.
  function countdown(el) {
    const end = Date.parse(el.dataset.deadline);
    function tick() {
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      const minutes = Math.floor(left / 60), seconds = left % 60;
      el.textContent = left > 0
        ? "Time left: " + minutes + " min " + String(seconds).padStart(2, "0") + " s."
        : "Time is up: the attempt is handed in.";
      if (left === 60) { say("One minute left."); }
      if (left > 0) { setTimeout(tick, 1000); } else { setTimeout(function () { window.location.reload(); }, 1500); }
    }
    tick();
  }

  function start() {
    typeset(document);
    document.querySelectorAll(".countdown[data-deadline]").forEach(countdown);
    document.querySelectorAll("textarea[data-code]").forEach(enhanceEditor);
    document.querySelectorAll("form[data-api-submit]").forEach(enhanceSubmit);
    document.querySelectorAll("button[data-regrade]").forEach(enhanceRegrade);
    document.querySelectorAll("button[data-export]").forEach(enhanceExport);
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) { form.submit(); });
    followPending();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
