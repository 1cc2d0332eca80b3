/* Sandbox cashier: when the bill is settled elsewhere (a phone that scanned
   the QR code, another tab), reload so the page says so. Polls with back-off. */
(function () {
  "use strict";
  var box = document.querySelector("[data-status-url]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-status-url"), delay = 1500, until = Date.now() + 30 * 60 * 1000;
  function check() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && data.status && data.status !== "open") { window.location.reload(); return; }
        schedule();
      }, schedule);
  }
  function schedule() {
    if (Date.now() > until) { return; }
    delay = Math.min(delay * 1.3, 10000);
    window.setTimeout(check, delay);
  }
  window.setTimeout(check, delay);
})();
