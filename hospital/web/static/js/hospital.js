/* Progressive enhancement for the patient pages; every page works without it. */
(function () {
  "use strict";

  // "Resend in N s": count down and enable the resend button at zero.
  function startCountdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (box) {
      var left = parseInt(box.getAttribute("data-countdown"), 10) || 0;
      var number = box.querySelector("[data-countdown-seconds]");
      var waiting = box.querySelector("[data-countdown-waiting]");
      var button = box.querySelector("button");
      function tick() {
        if (left <= 0) {
          if (waiting) waiting.hidden = true;
          if (button) button.disabled = false;
          return;
        }
        if (number) number.textContent = String(left);
        left -= 1;
        window.setTimeout(tick, 1000);
      }
      tick();
    });
  }

  // Elder mode: read the main content aloud in the page's language.
  function setUpReadAloud() {
    var button = document.querySelector("[data-read-aloud]");
    var content = document.querySelector("[data-read-content]");
    if (!button || !content || !("speechSynthesis" in window)) return;
    var lang = document.body.getAttribute("data-speech-lang") || "zh-CN";
    var label = button.querySelector(".label");
    button.hidden = false;
    function setLabel(speaking) {
      label.textContent = button.getAttribute(speaking ? "data-label-stop" : "data-label-start");
      button.setAttribute("aria-pressed", speaking ? "true" : "false");
    }
    button.addEventListener("click", function () {
      var synth = window.speechSynthesis;
      if (synth.speaking) {
        synth.cancel();
        setLabel(false);
        return;
      }
      var utterance = new SpeechSynthesisUtterance(content.innerText);
      utterance.lang = lang;
      var voice = synth.getVoices().filter(function (v) {
        return v.lang && v.lang.replace("_", "-").indexOf(lang.slice(0, 2)) === 0;
      })[0];
      if (voice) utterance.voice = voice;
      utterance.rate = 0.9;
      utterance.onend = function () { setLabel(false); };
      utterance.onerror = function () { setLabel(false); };
      setLabel(true);
      synth.speak(utterance);
    });
  }

  // Move focus to a form's error so screen readers announce it and the eye finds it.
  function focusFormError() {
    var error = document.querySelector("[data-form-error]");
    if (error) error.focus();
  }

  // A button that prints the page (an inline onclick would be refused by the CSP).
  function setUpPrintButtons() {
    document.querySelectorAll('[data-action="print"]').forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpPrintButtons();
    startCountdowns();
    setUpReadAloud();
    focusFormError();
  });
})();
