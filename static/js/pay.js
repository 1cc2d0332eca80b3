/* The hosted checkout's small behaviours (templates/pay/*). Every page works
   without it; with it: live payment status (polling with back-off), QR
   countdowns, the coupon total, the framed chooser's new-window hand-off, the
   result page's countdown to the shop, and WeChat JSAPI payment. */
(function () {
  "use strict";
  function $(selector, root) { return (root || document).querySelector(selector); }

  // A QR code past its time (issue 15): the code goes, the status line says so and
  // "Refresh the QR code" appears, which opens the channel's next bill (a new code)
  // for the same order. Answers whether this page is a QR page that can refresh.
  var refresh = $("[data-refresh]"), qrExpired = false;
  var showQrExpired = function () {
    if (!refresh) { return false; }
    if (qrExpired) { return true; }
    qrExpired = true;
    Array.prototype.forEach.call(document.querySelectorAll("[data-qr-while-valid]"), function (element) {
      element.hidden = true;
      element.style.display = "none";  // .button's display would win over hidden
    });
    var status = $("[data-live]");
    if (status) { status.textContent = refresh.getAttribute("data-expired-text"); }
    refresh.hidden = false;
    return true;
  };

  // Live status: poll until the order is no longer pending, then show the result
  // (or, on a QR page, its expired code and the refresh button).
  var live = $("[data-status-url]");
  if (live && window.fetch) {
    var statusUrl = live.getAttribute("data-status-url");
    var resultUrl = live.getAttribute("data-result-url");
    var delay = 1000, until = Date.now() + 30 * 60 * 1000;
    var poll = function () {
      if (qrExpired) { return; }
      fetch(statusUrl, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (data && data.status === "expired" && showQrExpired()) { return; }
          if (data && data.status && data.status !== "pending" && data.status !== "unknown") {
            window.location.replace(resultUrl);
            return;
          }
          next();
        }, next);
    };
    var next = function () {
      if (Date.now() > until) { return; }
      delay = Math.min(delay * 1.4, 8000);
      window.setTimeout(poll, delay);
    };
    window.setTimeout(poll, delay);
  }

  // QR validity countdown, on the server's clock: the page says when it was served.
  var expiry = $("[data-expires]");
  if (expiry) {
    var ends = parseInt(expiry.getAttribute("data-expires"), 10), out = $("[data-countdown]", expiry);
    var served = parseInt(expiry.getAttribute("data-served"), 10);
    var skew = served ? served - Date.now() : 0;
    var tick = function () {
      if (qrExpired) { return; }
      var left = Math.max(0, Math.round((ends - Date.now() - skew) / 1000));
      if (left === 0) {
        if (!showQrExpired()) { expiry.textContent = expiry.getAttribute("data-expired-text"); }
        return;
      }
      out.textContent = Math.floor(left / 60) + ":" + ("0" + left % 60).slice(-2);
      window.setTimeout(tick, 1000);
    };
    if (out && ends) { tick(); }
  }

  // Coupons: the amount to pay follows the shopper's pick.
  var chooser = $("[data-pay-chooser]");
  if (chooser) {
    chooser.addEventListener("change", function (event) {
      var input = event.target;
      if (input.name !== "coupon") { return; }
      var total = $("[data-pay-total]"), saving = $("[data-pay-saving]");
      if (total) { total.textContent = input.getAttribute("data-to-pay"); }
      if (saving) {
        saving.textContent = input.getAttribute("data-saving");
        saving.hidden = !input.getAttribute("data-saving");
      }
    });
    // Framed: a channel that opens in a new window leaves this frame waiting for the result.
    var waitUrl = chooser.getAttribute("data-wait-url");
    if (waitUrl) {
      chooser.addEventListener("submit", function (event) {
        var button = event.submitter;
        if (button && button.hasAttribute("data-new-window")) {
          window.setTimeout(function () { window.location.assign(waitUrl); }, 300);
        }
      });
    }
  }

  // Result page: back to the shop after a short countdown.
  var forward = $("[data-forward]");
  if (forward && !document.documentElement.getAttribute("data-bc-parent")) {
    var forwardText = forward.getAttribute("data-forward-text"), secondsLeft = 5;
    forward.hidden = false;  // hidden without scripts: nothing would count down
    var countDown = function () {
      if (secondsLeft <= 0) { window.location.assign(forward.getAttribute("data-forward")); return; }
      if (forwardText) { forward.textContent = forwardText.replace("{n}", String(secondsLeft)); }
      secondsLeft -= 1;
      window.setTimeout(countDown, 1000);
    };
    countDown();
  }

  // WeChat JSAPI: pay once the bridge is ready; the result page asks the gateway.
  var jsapi = $("[data-jsapi]");
  if (jsapi) {
    var params = JSON.parse(jsapi.getAttribute("data-jsapi"));
    var done = jsapi.getAttribute("data-result-url");
    var payButton = $("[data-jsapi-pay]", jsapi), busy = false;
    var pay = function () {
      if (busy || typeof window.WeixinJSBridge === "undefined") { return; }
      busy = true;
      window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (res) {
        var message = (res && res.err_msg) || "";
        var outcome = /:ok$/.test(message) ? "ok" : (/:cancel$/.test(message) ? "cancel" : "fail");
        window.location.assign(done + "?wx=" + outcome);
      });
    };
    if (payButton) { payButton.addEventListener("click", pay); }
    if (typeof window.WeixinJSBridge === "undefined") {
      document.addEventListener("WeixinJSBridgeReady", pay, false);
      // No bridge after a few seconds: not WeChat. Say so instead of (never next to)
      // "Opening WeChat Pay…", and drop the button that could not work (issue 15).
      window.setTimeout(function () {
        var status = $("[data-live]", jsapi);
        if (busy || typeof window.WeixinJSBridge !== "undefined" || !status) { return; }
        status.textContent = status.getAttribute("data-no-bridge-text");
        if (payButton) { payButton.hidden = true; }
      }, 3000);
    } else {
      pay();
    }
  }

  // Paid in a window opened from the checkout in the merchant's frame: that frame shows the
  // result and the merchant's page goes on, so this window closes itself (a browser may
  // refuse; then it says so and offers a button).
  var windowDone = $("[data-window-done]");
  if (windowDone) {
    var closeButton = $("[data-close-window]");
    if (closeButton) {
      closeButton.hidden = false;
      closeButton.addEventListener("click", function () { window.close(); });
    }
    window.close();
  }

  // WeChat's open-in-browser guide: copy the payment link (templates/pay/ali_guide.html).
  // navigator.clipboard needs a secure context and WeChat's permission; otherwise the
  // field's text is selected and copied the old way, or the shopper is told to long-press.
  var copyStatus = $("[data-copy-status]");
  var copyButtons = document.querySelectorAll("[data-copy]");
  var copyLegacy = function (field) {
    field.focus();
    field.select();
    field.setSelectionRange(0, field.value.length);
    try { return document.execCommand("copy"); } catch (e) { return false; }
  };
  var copied = function (ok) {
    if (!copyStatus) { return; }
    copyStatus.textContent = copyStatus.getAttribute(ok ? "data-copied-text" : "data-copy-failed-text");
  };
  Array.prototype.forEach.call(copyButtons, function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    button.hidden = false;  // hidden without scripts: it could not copy
    button.addEventListener("click", function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(function () { copied(true); },
          function () { copied(copyLegacy(field)); });
      } else {
        copied(copyLegacy(field));
      }
    });
  });
})();
