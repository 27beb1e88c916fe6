// Small progressive enhancements on top of htmx; every page works without this file.
(function () {
  "use strict";

  function showProblem(text) {
    var region = document.getElementById("htmx-problem");
    if (!region) return;
    region.textContent = text;
    region.hidden = false;
  }

  function clearProblem() {
    var region = document.getElementById("htmx-problem");
    if (region && !region.hidden) {
      region.hidden = true;
      region.textContent = "";
    }
  }

  // htmx does not swap 4xx/5xx answers; say so instead of failing silently.
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    showProblem(
      "The panel could not complete that request (HTTP " + status + "). " +
      "Reload the page and try again."
    );
  });

  // A poll that cannot reach the panel keeps trying; tell the user the view may be stale.
  document.addEventListener("htmx:sendError", function () {
    showProblem("The panel cannot be reached right now; progress shown here may be out of date.");
  });

  // "Another job is running" is only true while that job runs: its panel's last poll fires
  // job-finished, and the message goes (the user may try again now).
  document.addEventListener("job-finished", function () {
    document.querySelectorAll("[data-gone-when-job-ends]").forEach(function (element) {
      element.remove();
    });
  });

  // A plain form that destroys something asks first (without JavaScript it just submits).
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) clearProblem();
  });
})();
