// LTI client-side storage (the LTI OIDC login with postMessage storage) and the end of a
// dynamic registration. The platform's frame is window.parent (lti_storage_target "_parent")
// or a named frame of it; messages go to, and are only taken from, the platform's origin.
(function () {
  "use strict";
  var WAIT_MS = 5000;

  function platformFrame(name) {
    var host = window.parent !== window ? window.parent : window.opener;
    if (!host) { return null; }
    if (name === "_parent") { return host; }
    try { return host.frames[name] || null; } catch (e) { return null; }
  }

  function ask(el, message, done) {
    var frame = platformFrame(el.dataset.target);
    var origin = el.dataset.origin;
    if (!frame) { done(null); return; }
    var id = "holdout-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
    var finished = false;
    function finish(answer) {
      if (finished) { return; }
      finished = true;
      window.removeEventListener("message", listen);
      done(answer);
    }
    function listen(event) {
      var data = event.data;
      if (event.origin !== origin || !data || typeof data !== "object") { return; }
      if (data.message_id !== id || data.subject !== message.subject + ".response") { return; }
      finish(data);
    }
    window.addEventListener("message", listen);
    message.message_id = id;
    frame.postMessage(message, origin);
    window.setTimeout(function () { finish(null); }, WAIT_MS);
  }

  function say(el, text) {
    var status = el.querySelector("[role=status]");
    if (status) { status.textContent = text; }
  }

  function put(el) {
    ask(el, { subject: "lti.put_data", key: el.dataset.key, value: el.dataset.value }, function () {
      // Stored or not, go on: without the storage the state cookie still works.
      window.location.assign(el.dataset.next);
    });
  }

  function get(form) {
    ask(form, { subject: "lti.get_data", key: form.dataset.key }, function (answer) {
      if (answer && !answer.error && answer.key === form.dataset.key &&
          answer.value === form.dataset.value) {
        form.submit();
      } else {
        say(form, "Your course could not confirm this launch. Open holdout again from your " +
          "course (or in a new window).");
      }
    });
  }

  function start() {
    document.querySelectorAll("[data-lti-storage=put]").forEach(put);
    document.querySelectorAll("form[data-lti-storage=get]").forEach(get);
    if (document.querySelector("[data-lti-close]")) {
      var host = window.opener || (window.parent !== window ? window.parent : null);
      if (host) { host.postMessage({ subject: "org.imsglobal.lti.close" }, "*"); }
    }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
