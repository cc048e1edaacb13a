// The sign form's proof of work (self-hosted ALTCHA v1), used while a campaign is under
// attack: find the number whose SHA-256 with the salt is the challenge, then put the
// signed answer in the form. Nothing leaves this site.
(function () {
  "use strict";
  var status = document.querySelector("[data-proof-of-work]");
  if (!status || !window.crypto || !window.crypto.subtle) return;
  var form = status.closest("form");
  var field = form.querySelector("input[name=altcha]");
  var button = form.querySelector("button[type=submit]");
  button.disabled = true;
  status.textContent = status.getAttribute("data-working");

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function fail() {
    status.textContent = status.getAttribute("data-failed");
  }

  function solve(task, number) {
    var encoder = new TextEncoder();
    var end = Math.min(number + 2000, task.maxnumber);
    var tries = [];
    for (var n = number; n <= end; n++) {
      tries.push(window.crypto.subtle.digest("SHA-256", encoder.encode(task.salt + n)));
    }
    Promise.all(tries).then(function (digests) {
      for (var i = 0; i < digests.length; i++) {
        if (hex(digests[i]) === task.challenge) {
          field.value = btoa(JSON.stringify({
            algorithm: task.algorithm, challenge: task.challenge, number: number + i,
            salt: task.salt, signature: task.signature
          }));
          button.disabled = false;
          status.textContent = status.getAttribute("data-done");
          return;
        }
      }
      if (end >= task.maxnumber) return fail();
      window.setTimeout(function () { solve(task, end + 1); }, 0);
    }, fail);
  }

  fetch(status.getAttribute("data-proof-of-work"), {credentials: "same-origin"})
    .then(function (response) { return response.ok ? response.json() : Promise.reject(); })
    .then(function (task) { solve(task, 0); }, fail);
})();
