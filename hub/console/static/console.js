/* Zhongshu console: a tiny htmx-style helper (no library).
 * hx-get / hx-post on an element fetch HTML and swap it into hx-target (default: the element itself);
 * hx-swap="outerHTML" replaces the target, anything else fills it. hx-toggle="true" empties a filled
 * target instead of fetching again (open / close a lineage node). Forms fall back to normal posts
 * when this script does not run. */
(function () {
  "use strict";

  function target(el) {
    var sel = el.getAttribute("hx-target") || (el.form && el.form.getAttribute("hx-target"));
    return sel ? document.querySelector(sel) : el;
  }

  function swap(el, html) {
    var t = target(el);
    if (!t) return;
    var how = el.getAttribute("hx-swap") || (el.form && el.form.getAttribute("hx-swap")) || "innerHTML";
    if (how === "outerHTML") {
      var tpl = document.createElement(t.tagName === "TR" ? "tbody" : "div");
      tpl.innerHTML = html.trim();
      var next = tpl.firstElementChild;
      if (next) t.replaceWith(next); else t.innerHTML = html;
    } else {
      t.innerHTML = html;
    }
    document.dispatchEvent(new CustomEvent("console:swapped", {detail: {target: t}}));
  }

  function request(el, method, url, body) {
    el.setAttribute("aria-busy", "true");
    var opts = {method: method, headers: {"HX-Request": "true"}, credentials: "same-origin"};
    if (body) {
      opts.body = body;
      opts.headers["Content-Type"] = "application/x-www-form-urlencoded";
    }
    return fetch(url, opts).then(function (r) {
      if (r.status === 401) { window.location = "/console/login?next=" + encodeURIComponent(location.pathname + location.search); return; }
      return r.text().then(function (html) { swap(el, html); });
    }).catch(function (e) {
      swap(el, '<div class="error" role="alert">' + String(e).replace(/</g, "&lt;") + "</div>");
    }).finally(function () { el.removeAttribute("aria-busy"); });
  }

  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[hx-get]");
    if (!el) return;
    ev.preventDefault();
    var t = target(el);
    if (el.getAttribute("hx-toggle") === "true" && t && t.innerHTML.trim()) {
      t.innerHTML = "";
      el.classList.remove("opened");
      return;
    }
    el.classList.add("opened");
    if (el.classList.contains("grain")) {
      document.querySelectorAll(".grain").forEach(function (g) { g.classList.toggle("active", g === el); });
    }
    request(el, "GET", el.getAttribute("hx-get"));
  });

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var submitter = ev.submitter;
    var url = (submitter && submitter.getAttribute("hx-post")) || form.getAttribute("hx-post");
    if (!url) return;
    ev.preventDefault();
    var data = new URLSearchParams(new FormData(form));
    request(submitter && submitter.getAttribute("hx-post") ? submitter : form, "POST", url, data);
  });
})();
