// Threadline workspace: live preview of a campaign's story. Without this file, the
// "Preview the story" button renders the same preview on the server.
(function () {
  "use strict";
  var preview = document.getElementById("story-preview");
  if (!preview || !window.fetch) return;
  var source = document.getElementById(preview.getAttribute("data-preview-for"));
  var form = source && source.form;
  var token = form && form.querySelector("input[name=csrf_token]");
  if (!source || !token) return;
  var timer = null;
  var sent = 0;

  function refresh() {
    var ticket = ++sent;
    var body = new URLSearchParams();
    body.append("csrf_token", token.value);
    body.append("text", source.value);
    fetch(preview.getAttribute("data-preview-url"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: {"Accept": "application/json"}
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      // the server sanitised this HTML (nh3): no scripts, styles or event handlers
      if (data && ticket === sent) preview.innerHTML = data.html;
    }).catch(function () {});
  }

  source.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  refresh();
})();
