/* The Alipay simulator's cashier on a PC: while it waits, a phone may scan
   its QR code and pay there. It asks for the trade's status every two
   seconds and then moves on as Alipay's cashier does: to the merchant's
   return_url with the signed return parameters, or (no return_url, or the
   trade closed) to the cashier's own page, which says what happened. */
(function () {
  "use strict";
  var box = document.querySelector("[data-status-url]");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var timer = setInterval(function () {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (!status || status.state === "open") { return; }
        clearInterval(timer);
        if (status.next) { window.location.assign(status.next); } else { window.location.reload(); }
      })
      .catch(function () { /* the next tick asks again */ });
  }, 2000);
})();
