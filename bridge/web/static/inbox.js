// textback inbox: the live stream (/events) turned into htmx refreshes, the
// count of new items in the tab title, and the canned replies. No inline
// script anywhere: the CSP allows only files from this server.
(function () {
  "use strict";
  var baseTitle = document.title;
  var fresh = 0;

  function showCount() {
    document.title = fresh ? "(" + fresh + ") " + baseTitle : baseTitle;
    document.body.setAttribute("data-fresh", String(fresh));
  }

  function parse(text) {
    try { return JSON.parse(text); } catch (e) { return {}; }
  }

  function connect() {
    var body = document.body;
    if (!window.EventSource || !body.getAttribute("data-live")) { return; }
    var thread = body.getAttribute("data-thread");
    var source = new EventSource("/events" + (thread ? "?thread=" + encodeURIComponent(thread) : ""));
    source.addEventListener("open", function () { body.setAttribute("data-stream", "open"); });
    source.addEventListener("error", function () { body.setAttribute("data-stream", "reconnecting"); });
    source.addEventListener("change", function (event) {
      var data = parse(event.data);
      if (data["new"]) { fresh += 1; showCount(); }
      htmx.trigger(body, "tb-change", data);
    });
    source.addEventListener("presence", function (event) {
      htmx.trigger(body, "tb-presence", parse(event.data));
    });
    source.addEventListener("health", function () { htmx.trigger(body, "tb-health", {}); });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && fresh) { fresh = 0; showCount(); }
  });

  // A canned reply fills the answer box (already filled in on the server).
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-canned-text]") : null;
    var box = document.getElementById("reply-body");
    if (!button || !box) { return; }
    event.preventDefault();
    box.value = button.getAttribute("data-canned-text");
    box.dispatchEvent(new Event("input", { bubbles: true }));
    box.focus();
  });

  document.addEventListener("DOMContentLoaded", function () { showCount(); connect(); });
})();
