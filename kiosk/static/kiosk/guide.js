/* The kiosk's "where should I go?" screen: plain-word triage and the way there (hospital/guide). */
(function () {
  "use strict";
  var root = document.getElementById("kiosk");
  var screen = root && root.querySelector('[data-screen="guide"]');
  if (!screen) return;
  var T = JSON.parse(document.getElementById("guide-text").textContent);
  var lang = root.dataset.lang === "en" ? "en" : "zh";
  var answer = screen.querySelector("[data-guide-answer]");
  var way = screen.querySelector("[data-guide-route]");
  var form = screen.querySelector("[data-guide-form]");

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, data: d }; }); });
  }
  function showRoute(point) {
    var accessible = document.body.classList.contains("elder") ? "1" : "0";
    way.textContent = "";
    getJSON("/api/v1/guide/route?lang=" + lang + "&accessible=" + accessible +
            "&to_point=" + encodeURIComponent(point)).then(function (r) {
      if (!r.ok) { way.appendChild(el("p", "big-message", T.no_route)); return; }
      var list = el("ol", "guide-steps");
      r.data.steps.forEach(function (s) { list.appendChild(el("li", "", lang === "zh" ? s.zh : s.en)); });
      way.appendChild(list);
      r.data.floors.forEach(function (f) {
        var fig = el("figure", "guide-floor");
        fig.innerHTML = f.svg; // drawn by the server from the admin's map, names escaped there
        way.appendChild(fig);
      });
    }, function () { way.appendChild(el("p", "big-message", T.failed)); });
  }
  function render(d) {
    answer.textContent = "";
    way.textContent = "";
    if (d.emergency) {
      var alarm = el("div", "guide-emergency");
      alarm.setAttribute("role", "alert");
      alarm.appendChild(el("p", "big-message", lang === "zh" ? d.emergency_message_zh : d.emergency_message_en));
      answer.appendChild(alarm);
    }
    if (!d.suggestions || !d.suggestions.length) {
      if (!d.emergency) answer.appendChild(el("p", "big-message", T.not_understood));
      return;
    }
    answer.appendChild(el("h2", "", T.we_suggest));
    var choices = el("div", "choices");
    d.suggestions.forEach(function (s) {
      var card = el("div", "guide-suggestion");
      card.dataset.suggestion = s.code;
      card.appendChild(el("p", "big-message", lang === "zh" ? s.name_zh : s.name_en));
      card.appendChild(el("p", "", lang === "zh" ? s.reason_zh : s.reason_en));
      if (s.service_point) {
        var b = el("button", "choice", T.way);
        b.type = "button";
        b.addEventListener("click", function () { showRoute(s.service_point); });
        card.appendChild(b);
      }
      choices.appendChild(card);
    });
    answer.appendChild(choices);
    answer.appendChild(el("p", "", T.not_diagnosis));
  }
  root.addEventListener("click", function (event) {
    if (!event.target.closest('[data-action="guide-ask"]')) return;
    event.preventDefault();
    root.querySelectorAll("[data-screen]").forEach(function (s) { s.hidden = s !== screen; });
    root.dataset.current = "guide";
    answer.textContent = "";
    way.textContent = "";
    form.q.value = "";
    form.q.focus();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var q = form.q.value.trim();
    if (!q) return;
    getJSON("/api/v1/guide/triage?q=" + encodeURIComponent(q)).then(function (r) {
      if (r.ok) render(r.data); else answer.textContent = T.failed;
    }, function () { answer.textContent = T.failed; });
  });
})();
