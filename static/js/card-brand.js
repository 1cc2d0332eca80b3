/* Card brand detection as the shopper types (templates/paypal/card.html).
   The prefix table mirrors checkout/cards.py (_PREFIXES); the server decides,
   this only helps: it shows the brand, groups the digits, and sets the CVV
   length (4 for American Express). No inline script: CSP script-src 'self'. */
(function () {
  "use strict";
  var PREFIXES = [
    ["visa", 4, 4, 1],
    ["mastercard", 51, 55, 2], ["mastercard", 2221, 2720, 4],
    ["discover", 6011, 6011, 4], ["discover", 644, 649, 3], ["discover", 65, 65, 2],
    ["discover", 622126, 622925, 6],
    ["amex", 34, 34, 2], ["amex", 37, 37, 2]
  ];
  var NAMES = {visa: "Visa", mastercard: "Mastercard", discover: "Discover",
               amex: "American Express"};

  function detect(digits) {
    for (var i = 0; i < PREFIXES.length; i++) {
      var p = PREFIXES[i];
      if (digits.length >= p[3]) {
        var head = parseInt(digits.slice(0, p[3]), 10);
        if (head >= p[1] && head <= p[2]) { return p[0]; }
      }
    }
    return null;
  }

  function group(digits, brand) {
    var sizes = brand === "amex" ? [4, 6, 5] : [4, 4, 4, 4, 3];
    var out = [], at = 0;
    for (var i = 0; i < sizes.length && at < digits.length; i++) {
      out.push(digits.slice(at, at + sizes[i]));
      at += sizes[i];
    }
    return out.join(" ");
  }

  function init() {
    var number = document.getElementById("cc-number");
    if (!number) { return; }
    var badge = document.getElementById("cc-brand");
    // The brand marks (templates/_brands.html, drawn once in the page) and the
    // visually hidden name that the live region reads out.
    var marks = badge.querySelectorAll("[data-card-brand]");
    var name = badge.querySelector("[data-card-brand-name]");
    var cvv = document.getElementById("cc-csc");
    function update() {
      var digits = number.value.replace(/\D/g, "").slice(0, 19);
      var brand = detect(digits);
      for (var i = 0; i < marks.length; i++) {
        marks[i].hidden = marks[i].getAttribute("data-card-brand") !== brand;
      }
      var said = brand ? NAMES[brand] : "";
      if (name.textContent !== said) { name.textContent = said; }
      badge.className = "card-brand" + (brand ? " " + brand : "");
      number.setAttribute("data-brand", brand || "");
      var formatted = group(digits, brand);
      if (formatted !== number.value) {
        number.value = formatted;
      }
      if (cvv) {
        var len = brand === "amex" ? 4 : 3;
        cvv.setAttribute("maxlength", String(len));
        cvv.setAttribute("placeholder", len === 4 ? "1234" : "123");
      }
    }
    number.addEventListener("input", update);
    var exp = document.getElementById("cc-exp");
    if (exp) {
      exp.addEventListener("input", function () {
        var d = exp.value.replace(/\D/g, "").slice(0, 4);
        var next = d.length > 2 ? d.slice(0, 2) + " / " + d.slice(2) : d;
        if (next !== exp.value) { exp.value = next; }
      });
    }
    update();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
