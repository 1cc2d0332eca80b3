/* The 秒支付 button (BeeCloud's public API, seed 003 lines 325-391):
 *   BC.click(data, callbacks)  open the checkout for a signed order
 *   BC.err(object)             error sink, {ERROR: "..."}; default console.log
 *   "beecloud:onready"         fired on document once BC exists
 * callbacks: dataError(obj), wxJsapiFinish(res), wxJsapiSuccess(res),
 *   wxJsapiFail(res); our extension onResult({status, out_trade_no}).
 * Events (our extension): "beecloud:result" and "beecloud:close" on document.
 * data.lang (our extension, "zh" or "en"): the modal's language; without it the
 *   merchant page's <html lang>, then the browser's (issue 15: the dialog's
 *   label was English on Chinese pages). data.lang itself, when Chinese or
 *   English, is sent to the checkout as "lang", which keeps it on the order:
 *   the checkout speaks the language the merchant gave, in the modal too,
 *   where its language cookie is a blocked third-party cookie. <html lang> is
 *   not sent: templates often leave it "en" on Chinese pages, and the
 *   shopper's browser knows their language better than a default does.
 * After a payment in the modal, closing it (the checkout's Done, the close
 *   button, Escape) takes this page to data.return_url when one was given, as
 *   the checkout does in a top window: the shopper ends on one shop page.
 *
 * PC: a modal with the checkout in an iframe (when this page is one of the
 * merchant's frame origins; otherwise the top window goes to the checkout).
 * Phones and WeChat: the top window posts the order to the checkout (a POST,
 * so the sign and long optional data stay out of URLs, logs and Referer).
 * WeChat with an openid: WeChat Pay's JSAPI runs on this page (WeChat only
 * allows it under the merchant's registered payment directory).
 * The loader (returnscripts) sets window.__beecloudButton first. */
(function (window, document) {
  "use strict";
  var config = window.__beecloudButton || {};
  var base = String(config.base || "").replace(/\/+$/, "");
  var checkoutOrigin = (base.match(/^https?:\/\/[^\/]+/i) || [""])[0];
  var BC = window.BC = window.BC || {};
  var FIELDS = ["title", "amount", "out_trade_no", "sign", "return_url", "optional",
                "instant_channel", "openid", "need_ali_guide", "use_app", "coupon_id",
                "buyer_id", "analysis", "debug", "currency"];

  if (typeof BC.err !== "function") {
    BC.err = function (error) { if (window.console) { window.console.log(error); } };
  }

  function debugStep(data, text) {
    if (data && (data.debug === true || data.debug === "true")) { window.alert("BC: " + text); }
  }

  // --- checking the data (the same rules as the server's entry) ---------------------------

  function titleWidth(title) {
    var width = 0;
    for (var i = 0; i < title.length; i++) {
      var code = title.charCodeAt(i);
      // CJK, full-width forms and other wide characters count two.
      width += (code >= 0x1100 && (code <= 0x115f || (code >= 0x2e80 && code <= 0xa4cf) ||
        (code >= 0xac00 && code <= 0xd7a3) || (code >= 0xf900 && code <= 0xfaff) ||
        (code >= 0xfe30 && code <= 0xfe4f) || (code >= 0xff00 && code <= 0xff60) ||
        (code >= 0xffe0 && code <= 0xffe6))) ? 2 : 1;
    }
    return width;
  }

  function isFlatObject(value) {
    if (!value || typeof value !== "object" || value instanceof Array) { return false; }
    for (var key in value) {
      if (Object.prototype.hasOwnProperty.call(value, key) &&
          value[key] !== null && typeof value[key] === "object") { return false; }
    }
    return true;
  }

  function problemWith(data) {
    if (config.problem) { return config.problem; }
    if (!data || typeof data !== "object") { return "BC.click needs the order's data object"; }
    var title = data.title, amount = data.amount, number = data.out_trade_no;
    if (title === undefined || title === null || title === "") { return "title is required"; }
    if (typeof title !== "string") { return "title must be a string"; }
    if (/['"]/.test(title)) { return "title must not contain ' or \""; }
    if (titleWidth(title) > 32) {
      return "title must be at most 16 Chinese characters or 32 characters";
    }
    if (amount === undefined || amount === null || amount === "") { return "amount is required"; }
    if (!/^[0-9]+$/.test(String(amount)) || typeof amount === "boolean" || Number(amount) <= 0) {
      return "amount must be a whole number of fen greater than 0";
    }
    if (number === undefined || number === null || number === "") {
      return "out_trade_no is required";
    }
    if (!/^[A-Za-z0-9_]{1,64}$/.test(String(number))) {
      return "out_trade_no must be 1 to 64 letters, digits or underscores";
    }
    if (!data.sign) { return "sign is required"; }
    if (!/^[0-9A-Fa-f]{32}$/.test(String(data.sign))) {
      return "sign must be 32 hexadecimal characters";
    }
    if (data.return_url && !/^https?:\/\/[^?#\s]+$/i.test(String(data.return_url))) {
      return "return_url must start with http:// or https:// and carry no parameters";
    }
    if (data.optional && typeof data.optional === "object" && !isFlatObject(data.optional)) {
      return "optional must be a flat object of basic values";
    }
    return null;
  }

  function reportProblem(message, callbacks) {
    var error = { ERROR: message };
    if (callbacks && typeof callbacks.dataError === "function") { callbacks.dataError(error); }
    BC.err(error);
  }

  // --- what is sent ---------------------------------------------------------------------------

  function fieldsOf(data) {
    var fields = { appId: config.appId || data.app_id || data.appId };
    for (var i = 0; i < FIELDS.length; i++) {
      var name = FIELDS[i], value = data[name];
      if (value === undefined || value === null || value === "") { continue; }
      fields[name] = (typeof value === "object") ? JSON.stringify(value) : String(value);
    }
    if (config.useId) { fields.useId = config.useId; }
    var language = spoken((data && data.lang) || "");
    if (language) { fields.lang = language; }
    return fields;
  }

  // "zh" or "en" for a language tag the checkout speaks, else null.
  function spoken(tag) {
    var asked = String(tag).toLowerCase();
    if (asked.indexOf("zh") === 0) { return "zh"; }
    if (asked.indexOf("en") === 0) { return "en"; }
    return null;
  }

  function postForm(fields, target) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = base + "/pay";
    form.acceptCharset = "UTF-8";
    if (target) { form.target = target; }
    form.style.display = "none";
    for (var name in fields) {
      if (!Object.prototype.hasOwnProperty.call(fields, name)) { continue; }
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = fields[name];
      form.appendChild(input);
    }
    document.body.appendChild(form);
    form.submit();
    document.body.removeChild(form);
  }

  function device() {
    var agent = navigator.userAgent || "";
    if (/MicroMessenger/i.test(agent)) { return "wechat"; }
    if (/Mobi|Android|iPhone|iPad|iPod|HarmonyOS/i.test(agent)) { return "mobile"; }
    return "pc";
  }

  function mayFrame() {
    var origins = config.frameOrigins || [];
    for (var i = 0; i < origins.length; i++) {
      if (origins[i].toLowerCase() === window.location.origin.toLowerCase()) { return true; }
    }
    return false;
  }

  // --- the modal (PC) ---------------------------------------------------------------------------

  var modal = null, frameCount = 0;

  // The modal's own words, in the merchant page's language.
  var WORDS = {
    zh: { dialog: "秒支付收银台", close: "关闭" },
    en: { dialog: "秒支付 Checkout", close: "Close" }
  };

  function languageOf(data) {
    var asked = String((data && data.lang) || document.documentElement.lang ||
                       navigator.language || "zh").toLowerCase();
    return asked.indexOf("en") === 0 ? "en" : "zh";
  }

  function style(element, rules) {
    for (var name in rules) {
      if (Object.prototype.hasOwnProperty.call(rules, name)) { element.style[name] = rules[name]; }
    }
    return element;
  }

  function closeModal() {
    if (!modal) { return; }
    var closing = modal;
    modal = null;
    var onward = closing.paid && closing.returnUrl;
    window.removeEventListener("message", closing.onMessage);
    document.removeEventListener("keydown", closing.onKey, true);
    document.removeEventListener("focusin", closing.onFocus, true);
    document.documentElement.style.overflow = closing.overflow;
    closing.overlay.parentNode.removeChild(closing.overlay);
    if (closing.opener && typeof closing.opener.focus === "function") { closing.opener.focus(); }
    document.dispatchEvent(new CustomEvent("beecloud:close", { detail: { out_trade_no: closing.order } }));
    if (onward) { window.location.assign(closing.returnUrl); }
  }

  function openModal(fields, callbacks, data) {
    closeModal();
    var words = WORDS[languageOf(data)];
    var name = "bc-checkout-" + (++frameCount);
    var overlay = style(document.createElement("div"), {
      position: "fixed", top: "0", left: "0", right: "0", bottom: "0", zIndex: "2147483000",
      background: "rgba(15, 20, 30, 0.55)", display: "flex", alignItems: "center",
      justifyContent: "center"
    });
    overlay.setAttribute("data-bc-overlay", "");
    var dialog = style(document.createElement("div"), {
      position: "relative", width: "min(480px, calc(100vw - 24px))", background: "#f5f6f7",
      borderRadius: "14px", boxShadow: "0 18px 60px rgba(0,0,0,.35)", overflow: "hidden"
    });
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-modal", "true");
    dialog.setAttribute("aria-label", words.dialog);
    var close = style(document.createElement("button"), {
      position: "absolute", top: "6px", right: "8px", width: "36px", height: "36px",
      border: "0", borderRadius: "18px", background: "rgba(255,255,255,.9)", color: "#333",
      fontSize: "22px", lineHeight: "36px", cursor: "pointer", zIndex: "1"
    });
    close.type = "button";
    close.setAttribute("aria-label", words.close);
    close.setAttribute("data-bc-modal-close", "");
    close.textContent = "×";
    var frame = style(document.createElement("iframe"), {
      display: "block", width: "100%", height: Math.min(640, window.innerHeight - 48) + "px",
      border: "0", background: "#f5f6f7"
    });
    frame.name = name;
    frame.title = words.dialog;
    frame.setAttribute("allow", "payment");
    // Focus guards: Tab out of the (cross-origin) frame lands on a guard,
    // which hands focus back to the dialog's start.
    var guardBefore = document.createElement("span"), guardAfter = document.createElement("span");
    guardBefore.tabIndex = 0;
    guardAfter.tabIndex = 0;
    dialog.appendChild(close);
    dialog.appendChild(frame);
    overlay.appendChild(guardBefore);
    overlay.appendChild(dialog);
    overlay.appendChild(guardAfter);
    document.body.appendChild(overlay);

    modal = {
      overlay: overlay, frame: frame, order: fields.out_trade_no,
      returnUrl: fields.return_url || null, paid: false,
      opener: document.activeElement, overflow: document.documentElement.style.overflow,
      onMessage: function (event) {
        if (event.origin !== checkoutOrigin || event.source !== frame.contentWindow) { return; }
        var data = event.data || {};
        if (data.source !== "bc-checkout") { return; }
        if (data.type === "height" && data.height > 0) {
          frame.style.height = Math.min(Math.max(data.height, 200), window.innerHeight - 48) + "px";
        } else if (data.type === "result") {
          var detail = { status: String(data.status), out_trade_no: fields.out_trade_no };
          if (detail.status === "paid" && modal) { modal.paid = true; }
          document.dispatchEvent(new CustomEvent("beecloud:result", { detail: detail }));
          if (callbacks && typeof callbacks.onResult === "function") { callbacks.onResult(detail); }
        } else if (data.type === "close") {
          closeModal();
        }
      },
      onKey: function (event) {
        if (event.key === "Escape" || event.key === "Esc") {
          event.preventDefault();
          closeModal();
        }
      }
    };
    modal.onFocus = function (event) {
      if (event.target === guardAfter || !overlay.contains(event.target)) {
        close.focus();
      } else if (event.target === guardBefore) {
        frame.focus();
      }
    };
    close.addEventListener("click", closeModal);
    document.addEventListener("focusin", modal.onFocus, true);
    overlay.addEventListener("click", function (event) { if (event.target === overlay) { closeModal(); } });
    window.addEventListener("message", modal.onMessage);
    document.addEventListener("keydown", modal.onKey, true);
    document.documentElement.style.overflow = "hidden";
    fields.embed = "1";
    fields.parent_origin = window.location.origin;
    postForm(fields, name);
    close.focus();
  }

  // --- WeChat JSAPI on the merchant's page ---------------------------------------------------------

  function whenBridgeReady(run) {
    if (typeof window.WeixinJSBridge === "undefined") {
      document.addEventListener("WeixinJSBridgeReady", run, false);
    } else {
      run();
    }
  }

  function payInWeChat(fields, data, callbacks) {
    callbacks = callbacks || {};
    debugStep(data, "asking for WeChat Pay parameters");
    var body = {};
    for (var name in fields) {
      if (Object.prototype.hasOwnProperty.call(fields, name)) { body[name] = fields[name]; }
    }
    window.fetch(base + "/pay/jsapi", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (answer) { return { ok: response.ok, answer: answer }; });
    }).then(function (result) {
      if (!result.ok || !result.answer || result.answer.ERROR) {
        reportProblem((result.answer && result.answer.ERROR) || "the payment service refused the order",
                      callbacks);
        return;
      }
      var answer = result.answer;
      var params = { appId: answer.appId, timeStamp: answer.timeStamp, nonceStr: answer.nonceStr,
                     "package": answer["package"], signType: answer.signType, paySign: answer.paySign };
      whenBridgeReady(function () {
        debugStep(data, "calling WeixinJSBridge getBrandWCPayRequest");
        window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (res) {
          debugStep(data, "WeChat answered " + (res && res.err_msg));
          if (typeof callbacks.wxJsapiFinish === "function") { callbacks.wxJsapiFinish(res); }
          if (res && res.err_msg === "get_brand_wcpay_request:ok") {
            if (typeof callbacks.wxJsapiSuccess === "function") { callbacks.wxJsapiSuccess(res); }
          } else if (typeof callbacks.wxJsapiFail === "function") {
            callbacks.wxJsapiFail(res);
          }
        });
      });
    }, function () {
      reportProblem("the payment service cannot be reached", callbacks);
    });
  }

  // --- BC.click -----------------------------------------------------------------------------------

  BC.click = function (data, callbacks) {
    debugStep(data, "checking the order");
    var problem = problemWith(data);
    if (problem) {
      debugStep(data, "problem: " + problem);
      reportProblem(problem, callbacks);
      return false;
    }
    var fields = fieldsOf(data);
    var kind = device();
    if (kind === "wechat" && data.openid && window.fetch) {
      payInWeChat(fields, data, callbacks);
    } else if (kind === "pc" && mayFrame()) {
      debugStep(data, "opening the checkout");
      openModal(fields, callbacks, data);
    } else {
      debugStep(data, "going to the checkout");
      postForm(fields, null);
    }
    return true;
  };
  BC.close = closeModal;

  var ready;
  try {
    ready = new CustomEvent("beecloud:onready");
  } catch (e) {
    ready = document.createEvent("Event");
    ready.initEvent("beecloud:onready", false, false);
  }
  document.dispatchEvent(ready);
})(window, document);
