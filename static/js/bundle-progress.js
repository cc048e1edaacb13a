// Delivery bundle page: refresh the progress bar while the bundle is built.
// Without this file the page offers a reload link instead.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box || !window.fetch) return;
  var state = box.getAttribute("data-state");
  if (state !== "queued" && state !== "running") return;
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  var poll = function () {
    fetch(box.getAttribute("data-progress-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        bar.value = data.percent;
        bar.textContent = data.percent + "%";
        if (text) text.textContent = data.percent + "% (" + data.done + " / " + data.total + ")";
        if (data.state === "done" || data.state === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      }, function () { window.setTimeout(poll, 5000); });
  };
  window.setTimeout(poll, 1000);
})();
