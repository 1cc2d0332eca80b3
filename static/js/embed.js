/* The checkout inside a merchant's iframe (the button's modal): tell the
   merchant page what happens, by postMessage to EXACTLY the parent origin the
   server validated against the merchant's frame origins (data-bc-parent on
   <html>), never "*". Messages: {source: "bc-checkout", type: "height", height},
   {type: "result", status, out_trade_no} on a result page, {type: "close"}. */
(function () {
  "use strict";
  var root = document.documentElement;
  var parentOrigin = root.getAttribute("data-bc-parent");
  if (!parentOrigin || window.parent === window) { return; }

  // Inside the button's modal (static/js/bc-button.js names its frame "bc-checkout-N"),
  // the modal's own close button is the one close button: the page's is hidden by
  // pay.css (issue 15: two overlapping close buttons). A merchant's own iframe keeps it.
  if (/^bc-checkout-\d+$/.test(window.name || "")) { root.classList.add("bc-in-modal"); }

  function send(message) {
    message.source = "bc-checkout";
    window.parent.postMessage(message, parentOrigin);
  }

  var lastHeight = 0;
  function reportHeight() {
    var height = Math.ceil(document.documentElement.scrollHeight);
    if (height !== lastHeight) {
      lastHeight = height;
      send({ type: "height", height: height });
    }
  }
  reportHeight();
  window.addEventListener("load", reportHeight);
  if (window.ResizeObserver) {
    new window.ResizeObserver(reportHeight).observe(document.body);
  } else {
    window.addEventListener("resize", reportHeight);
  }

  var result = root.getAttribute("data-bc-result");
  if (result) {
    send({ type: "result", status: result, out_trade_no: root.getAttribute("data-bc-order") });
  }

  // Escape inside the frame closes the merchant's modal too (the parent
  // page cannot see key presses in a cross-origin frame).
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" || event.key === "Esc") { send({ type: "close" }); }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    while (target && target !== document) {
      if (target.hasAttribute && target.hasAttribute("data-bc-close")) {
        event.preventDefault();
        send({ type: "close" });
        return;
      }
      target = target.parentNode;
    }
  });
})();
