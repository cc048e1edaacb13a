// Campaign updates: refresh the delivery progress bar until every email is out.
// Without this file, the page's "Reload" link does the same.
(function () {
  "use strict";
  var bar = document.querySelector("progress[data-progress-url]");
  if (!bar || !window.fetch) return;
  var label = document.querySelector("[data-progress-label]");
  var url = bar.getAttribute("data-progress-url");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        bar.max = Math.max(data.total, 1);
        bar.value = data.delivered;
        if (label) label.textContent = data.label;
        if (!data.done) window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
