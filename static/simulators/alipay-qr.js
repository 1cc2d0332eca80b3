/* The Alipay simulator's QR frame: asks the simulator for the trade's status
   every two seconds; when the phone has paid it moves the frame on to the
   merchant's return_url with Alipay's signed return parameters, as Alipay's
   own frame does; when the trade is closed it says so. */
(function () {
  "use strict";
  var body = document.body;
  var url = body.getAttribute("data-status-url");
  var live = document.querySelector("[data-testid=qr-status]");
  var timer = null;

  function show(text) {
    var code = document.querySelector("[data-testid=qr-code]");
    var caption = document.querySelector(".sim-qr-caption");
    if (code) { code.remove(); }
    if (caption) { caption.remove(); }
    live.textContent = text;
  }

  function check() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (!status || status.state === "open") { return; }
        clearInterval(timer);
        if (status.state === "paid") {
          show(body.getAttribute("data-paid-text") || "✓");
          if (status.next) { window.location.assign(status.next); }
        } else {
          show(body.getAttribute("data-closed-text") || "×");
        }
      })
      .catch(function () { /* the next tick asks again */ });
  }

  timer = setInterval(check, 2000);
})();
