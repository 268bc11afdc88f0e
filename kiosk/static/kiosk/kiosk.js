/* The kiosk's touch screen: flows, idle reset, offline screen, scanner, camera and voice.
   No build step, no libraries. Nothing personal is ever written to browser storage; the idle
   reset still clears storage and reloads the page, so nothing a patient typed or saw remains. */
(function () {
  "use strict";
  var root = document.getElementById("kiosk");
  if (!root) return;
  var T = JSON.parse(document.getElementById("kiosk-text").textContent);
  var API = root.dataset.api;
  var cfg = {
    idle: Number(root.dataset.idleSeconds) || 60,
    warn: Number(root.dataset.warningSeconds) || 20,
    heartbeat: Number(root.dataset.heartbeatSeconds) || 30,
    retry: Number(root.dataset.retrySeconds) || 5,
    timeout: Number(root.dataset.requestTimeoutSeconds) || 8,
    payPoll: Number(root.dataset.payPollSeconds) || 3
  };
  var state = fresh();
  var idleTimer = null, countdownTimer = null, heartbeatTimer = null, probeTimer = null, payTimer = null;
  var camera = null;

  function fresh() {
    return { flow: null, proof: null, department: null, departments: [],
             screen: "start", lastInput: "start", retry: null, elder: false, offline: false,
             ticket: null, phone: null, pending: null, people: [], patient: null, fee: "", letter: "" };
  }
  function $(sel) { return root.querySelector(sel); }
  function $$(sel) { return Array.prototype.slice.call(root.querySelectorAll(sel)); }
  function fill(s, v) { return s.replace(/\{(\w+)\}/g, function (_, k) { return v[k]; }); }

  // ---- screens and voice ------------------------------------------------------------------
  function show(name) {
    if (state.screen === "scan" && name !== "scan") stopCamera();
    state.screen = name;
    $$("[data-screen]").forEach(function (s) { s.hidden = s.dataset.screen !== name; });
    var screen = $('[data-screen="' + name + '"]');
    $$("[data-only-flow]").forEach(function (b) { b.hidden = b.dataset.onlyFlow !== state.flow; });
    if (name === "identify" && state.flow === "walk-in" && (state.queue === false || state.fee)) {
      // A booked slot, or a fee to pay: both need a confirmed phone to book and pay from.
      $('[data-action="by-id"]').hidden = true;
      $('[data-action="anonymous"]').hidden = true;
    } else {
      $('[data-action="by-id"]').hidden = state.flow === "report"; // reports need a texted code
    }
    // A fee, or a booked slot, with no phone to pay from: the desk takes it (a printed slip).
    $('[data-action="no-phone"]').hidden = !(name === "identify" && state.flow === "walk-in" &&
                                             (state.queue === false || state.fee));
    say(screen.dataset.say || (screen.querySelector("h1") || {}).textContent);
    var input = screen.querySelector("input");
    if (input) input.focus();
    root.dataset.current = name;
    armIdle();
  }
  function say(text) {
    if (!state.elder || !text || !("speechSynthesis" in window)) return;
    window.speechSynthesis.cancel();
    var u = new SpeechSynthesisUtterance(text);
    u.lang = root.dataset.speechLang;
    u.rate = 0.9;
    window.speechSynthesis.speak(u);
  }
  function problem(message) {
    $("[data-message]").textContent = message || T.failed;
    show("message");
    say(message);
  }

  // ---- talking to the server --------------------------------------------------------------
  function api(method, path, body) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, cfg.timeout * 1000);
    return fetch(API + path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-Requested-With": "kiosk" },
      body: body ? JSON.stringify(body) : undefined,
      signal: controller.signal
    }).then(function (r) {
      clearTimeout(timer);
      if (r.status === 502 || r.status === 503 || r.status === 504) throw unreachable();
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var e = new Error(data.message || T.failed);
          e.status = r.status;
          throw e;
        }
        return data;
      });
    }, function () {
      clearTimeout(timer);
      throw unreachable();
    });
  }
  function unreachable() {
    goOffline();
    var e = new Error("offline");
    e.offline = true;
    return e;
  }
  function fail(err) { if (!err.offline) problem(err.message); }

  function goOffline() {
    if (state.offline) return;
    state.offline = true;
    hideWarning();
    clearTimeout(idleTimer);
    stopCamera();
    wipe();
    show("offline");
    probeTimer = setInterval(probe, cfg.retry * 1000);
  }
  function probe() {
    if (navigator.onLine === false) return;
    api("POST", "/heartbeat").then(function () {
      clearInterval(probeTimer);
      reset();
    }, function () {});
  }
  function heartbeat() {
    if (state.offline) return;
    api("POST", "/heartbeat").catch(function () {});
  }
  window.addEventListener("offline", goOffline);

  // ---- idle reset (WCAG 2.2.1: warn, count down, let the person continue) -------------------
  function dirty() { return state.screen !== "start" || state.elder || root.dataset.lang !== root.dataset.defaultLang; }
  function armIdle() {
    clearTimeout(idleTimer);
    if (state.offline || !dirty()) return;
    idleTimer = setTimeout(warn, cfg.idle * 1000);
  }
  function warn() {
    var box = $("[data-idle-warning]"), left = cfg.warn;
    var counter = $("[data-idle-countdown]");
    counter.textContent = left;
    box.hidden = false;
    box.querySelector("button").focus();
    say($("#k-idle-title").textContent);
    countdownTimer = setInterval(function () {
      left -= 1;
      counter.textContent = Math.max(left, 0);
      if (left <= 0) reset();
    }, 1000);
  }
  function hideWarning() {
    clearInterval(countdownTimer);
    $("[data-idle-warning]").hidden = true;
  }
  function wipe() {
    $$("[data-personal]").forEach(function (el) {
      if ("value" in el && el.tagName === "INPUT") el.value = ""; else el.innerHTML = "";
    });
    clearTimeout(payTimer);
    var frame = $("[data-report-frame]");
    if (frame.dataset.url) { URL.revokeObjectURL(frame.dataset.url); delete frame.dataset.url; }
    frame.removeAttribute("src");
    state.proof = null;
    state.ticket = null;
    state.phone = null;
    state.pending = null;
    state.people = [];
    state.patient = null;
  }
  function reset() {
    hideWarning();
    clearTimeout(idleTimer);
    clearInterval(heartbeatTimer);
    stopCamera();
    if ("speechSynthesis" in window) window.speechSynthesis.cancel();
    wipe();
    try { window.sessionStorage.clear(); window.localStorage.clear(); } catch (e) { /* storage may be disabled */ }
    state = fresh();
    root.dataset.reset = "1";
    window.location.replace(root.dataset.startUrl + "?lang=" + root.dataset.defaultLang);
  }
  ["pointerdown", "keydown", "touchstart"].forEach(function (type) {
    document.addEventListener(type, function () {
      if ($("[data-idle-warning]").hidden) armIdle();
    }, true);
  });

  // ---- camera (BarcodeDetector where the browser has it) ------------------------------------
  function startCamera() {
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices) { problem(T.no_camera); return; }
    var video = $("#k-camera"), detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      camera = { stream: stream, timer: null };
      video.srcObject = stream;
      video.hidden = false;
      video.play();
      camera.timer = setInterval(function () {
        detector.detect(video).then(function (codes) {
          if (codes.length) { stopCamera(); scanned(codes[0].rawValue); }
        }).catch(function () {});
      }, 300);
    }, function () { problem(T.no_camera); });
  }
  function stopCamera() {
    if (!camera) return;
    clearInterval(camera.timer);
    camera.stream.getTracks().forEach(function (t) { t.stop(); });
    $("#k-camera").hidden = true;
    camera = null;
  }

  // ---- flows -------------------------------------------------------------------------------
  function withProof(extra) {
    var body = {};
    Object.keys(state.proof || {}).forEach(function (k) { body[k] = state.proof[k]; });
    Object.keys(extra || {}).forEach(function (k) { body[k] = extra[k]; });
    return body;
  }
  function scanned(code) {
    state.lastInput = "scan";
    api("POST", "/check-in", { code: code.trim() }).then(showTicket, fail);
  }
  function proven(appointments) {
    if (state.flow === "walk-in") {
      var confirmed = state.proof && state.proof.confirmation;
      if (confirmed && state.people.length > 1 && state.patient === null) { choosePerson(); return; }
      var chosen = state.departments.filter(function (d) { return d.department_id === state.department; })[0] || {};
      if (confirmed && chosen.slot_today) {
        book();
      } else if (confirmed) {
        payWalkIn();
      } else {
        api("POST", "/walk-in", withProof({ department_id: state.department })).then(showTicket, fail);
      }
    } else if (state.flow === "report") {
      api("POST", "/reports", withProof()).then(chooseReport, fail);
    } else if (state.flow === "reprint") {
      api("POST", "/reprint", withProof()).then(showTicket, fail);
    } else if (appointments) {
      chooseAppointment(appointments);
    } else {
      api("POST", "/appointments", withProof()).then(function (d) { chooseAppointment(d.appointments); }, fail);
    }
  }
  // A list of choices, every one reachable: a page of PAGE_SIZE large buttons at a time, with
  // large "previous" and "next" buttons and "page 2 of 3" beneath when there is more than a page.
  var PAGE_SIZE = 5;
  function pagedList(name, items, build) {
    var holder = $('[data-list="' + name + '"]');
    var pager = $('[data-pager="' + name + '"]');
    var prev = pager.querySelector('[data-page="prev"]'), next = pager.querySelector('[data-page="next"]');
    var pages = Math.max(1, Math.ceil(items.length / PAGE_SIZE)), page = 0;
    holder.dataset.total = String(items.length);
    function draw() {
      holder.innerHTML = "";
      items.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).forEach(function (item) { holder.appendChild(build(item)); });
      pager.hidden = pages < 2;
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
      pager.querySelector("[data-page-status]").textContent = fill(T.page, { n: page + 1, total: pages });
    }
    prev.onclick = function () { if (page > 0) { page -= 1; draw(); } };
    next.onclick = function () { if (page < pages - 1) { page += 1; draw(); } };
    draw();
  }
  function choosePerson() {
    pagedList("people", state.people, function (p) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "choice";
      b.dataset.patient = p.patient_id;
      b.textContent = p.masked_name + (p.is_self ? " (" + T.myself + ")" : "");
      b.addEventListener("click", function () { state.patient = p.patient_id; proven(); });
      return b;
    });
    show("who");
  }
  function forWhom() {
    var body = { department_id: state.department };
    if (state.patient !== null) body.patient_id = state.patient;
    return withProof(body);
  }
  function book() {
    api("POST", "/walk-in/book", forWhom()).then(function (d) {
      awaitPayment("/walk-in/bookings/" + d.appointment_id, d, fill(T.pay_summary, { time: d.time, fee: d.fee }));
    }, fail);
  }
  function payWalkIn() {
    api("POST", "/walk-in/pay", forWhom()).then(function (d) {
      awaitPayment("/walk-in/payments/" + d.walk_in_id, d, fill(T.pay_walk_in, { fee: d.fee }));
    }, fail);
  }
  function awaitPayment(path, d, summary) {
    state.pending = path;
    if (!d.pay_url) { poll(); return; }
    $("[data-pay-summary]").textContent = summary;
    $("[data-pay-qr]").innerHTML = d.pay_qr;
    $("[data-pay-qr]").dataset.payUrl = d.pay_url;
    show("pay");
    payTimer = setTimeout(poll, cfg.payPoll * 1000);
  }
  function poll() {
    clearTimeout(payTimer);
    if (!state.pending) return;
    api("POST", state.pending, withProof()).then(function (d) {
      if (d.paid) { state.pending = null; showTicket(d.ticket); return; }
      if (state.screen === "pay") payTimer = setTimeout(poll, cfg.payPoll * 1000);
    }, fail);
  }
  function leavePayment() {
    clearTimeout(payTimer);
    var pending = state.pending;
    if (!pending || pending.indexOf("/walk-in/payments/") !== 0) { actions.home(); return; }
    // Void the unpaid fee, so a payment made after leaving is not taken; if it was paid, show its ticket.
    api("POST", pending + "/cancel", withProof()).then(function () { actions.home(); }, function (err) {
      if (err.status === 409) poll(); else actions.home();
    });
  }
  function chooseReport(list) {
    $("[data-report-status]").textContent = "";
    pagedList("reports", list, function (r) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "choice";
      b.dataset.report = r.public_id;
      b.textContent = r.title + " · " + r.masked_name + " · " + r.released;
      b.addEventListener("click", function () { printReport(r.public_id); });
      return b;
    });
    show("reports");
  }
  function printReport(publicId) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, cfg.timeout * 1000);
    fetch(API + "/reports/" + encodeURIComponent(publicId) + "/pdf", {
      method: "POST", credentials: "same-origin", signal: controller.signal,
      headers: { "Content-Type": "application/json", "X-Requested-With": "kiosk" },
      body: JSON.stringify(withProof())
    }).then(function (r) {
      clearTimeout(timer);
      if (!r.ok) return r.json().catch(function () { return {}; }).then(function (d) { problem(d.message); });
      return r.blob().then(function (blob) {
        var frame = $("[data-report-frame]");
        if (frame.dataset.url) URL.revokeObjectURL(frame.dataset.url);
        frame.dataset.url = URL.createObjectURL(blob);
        root.dataset.reportBytes = String(blob.size);
        frame.onload = function () {
          try { frame.contentWindow.print(); } catch (e) { window.print(); }
        };
        frame.src = frame.dataset.url;
        $("[data-report-status]").textContent = T.report_printing;
        say(T.report_printing);
      });
    }, function () { clearTimeout(timer); goOffline(); });
  }
  function chooseAppointment(list) {
    if (!list.length) { api("POST", "/appointments", withProof()).then(function (d) { chooseAppointment(d.appointments); }, fail); return; }
    if (list.length === 1) { checkIn(list[0].appointment_id); return; }
    pagedList("appointments", list, function (a) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "choice";
      b.dataset.appointment = a.appointment_id;
      b.textContent = a.time + " · " + a.department + (a.clinician ? " · " + a.clinician : "") +
        " · " + a.masked_name + (a.checked_in ? " (" + T.checked_in + ")" : "");
      b.addEventListener("click", function () { checkIn(a.appointment_id); });
      return b;
    });
    show("appointments");
  }
  function checkIn(appointmentId) {
    api("POST", "/check-in", withProof({ appointment_id: appointmentId })).then(showTicket, fail);
  }
  function showTicket(data) {
    state.ticket = data;
    $("[data-ticket]").innerHTML = data.slip_html;
    var status = $("[data-print-status]");
    status.textContent = data.new === false && state.flow === "check-in" ? T.already : "";
    status.className = "notice";
    show("ticket");
    printTicket();
  }
  function printTicket() {
    var status = $("[data-print-status]");
    var before = status.textContent ? status.textContent + " " : "";
    status.textContent = before + T.printing;
    api("POST", "/tickets/" + encodeURIComponent(state.ticket.token) + "/print").then(function (d) {
      root.dataset.printerState = d.printer_state;
      if (d.by_browser) {
        status.textContent = before + T.browser_print;
        window.print();
      } else if (d.printed) {
        status.textContent = before + T.printed;
      } else {
        status.textContent = d.message || T.print_error;
        status.className = "notice notice-error";
        say(status.textContent);
      }
    }, function (err) {
      if (err.offline) return;
      status.textContent = err.message || T.print_error;
      status.className = "notice notice-error";
    });
  }
  function departments() {
    api("GET", "/walk-in/departments").then(function (list) {
      state.departments = list;
      state.letter = "";
      renderLetters();
      renderDepartments();
      show("departments");
      // Say "scroll for more" only when there is more than the screen shows.
      var grid = $('[data-list="departments"]');
      $("[data-scroll-hint]").hidden = grid.scrollHeight <= grid.clientHeight;
    }, fail);
  }
  // The A-Z index: one large key per pinyin initial that has a department, and "all".
  function renderLetters() {
    var bar = $("[data-letter-bar]");
    bar.innerHTML = "";
    var letters = [];
    state.departments.forEach(function (d) { if (d.initial && letters.indexOf(d.initial) < 0) letters.push(d.initial); });
    letters.sort(function (a, b) { return a === "#" ? 1 : b === "#" ? -1 : a < b ? -1 : a > b ? 1 : 0; });
    bar.hidden = letters.length < 2;
    [""].concat(letters).forEach(function (letter) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "letter-key";
      b.dataset.letter = letter;
      b.textContent = letter || T.all_letters;
      b.setAttribute("aria-pressed", String(letter === state.letter));
      b.addEventListener("click", function () {
        state.letter = letter;
        $$("[data-letter-bar] .letter-key").forEach(function (k) {
          k.setAttribute("aria-pressed", String(k.dataset.letter === letter));
        });
        renderDepartments();
        var grid = $('[data-list="departments"]');
        grid.scrollTop = 0;
        $("[data-scroll-hint]").hidden = grid.scrollHeight <= grid.clientHeight;
      });
      bar.appendChild(b);
    });
  }
  function renderDepartments() {
    var holder = $('[data-list="departments"]');
    holder.innerHTML = "";
    var list = state.departments;
    if (!list.length) { problem(T.no_departments); return; }
    if (state.letter) list = list.filter(function (d) { return d.initial === state.letter; });
    // Every department in one scrolling grid: name large, waiting and fee beneath.
    list.forEach(function (d) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "department";
      b.dataset.department = d.department_id;
      var name = document.createElement("span");
      name.className = "department-name";
      name.textContent = d.name;
      var more = document.createElement("span");
      more.className = "department-more";
      more.textContent = fill(T.waiting, { n: d.waiting }) +
        (d.queue && d.fee ? " · " + fill(T.fee, { fee: d.fee }) : "");
      b.appendChild(name);
      b.appendChild(more);
      b.addEventListener("click", function () {
        state.department = d.department_id;
        state.queue = d.queue;
        state.fee = d.queue ? d.fee : "";
        state.departmentName = d.name;
        show("identify");
      });
      holder.appendChild(b);
    });
  }

  // ---- a walk-in without a phone: a slip for the registration desk -------------------------
  function deskSlip() {
    // The server prints the slip on the kiosk's printer, or says the browser prints it.
    api("POST", "/walk-in/desk-slip", { department_id: state.department }).then(function (d) {
      $("[data-desk-department]").textContent = d.department_zh;
      $("[data-desk-department-en]").textContent = d.department_en;
      $("[data-desk-fee]").textContent = d.fee ?
        "挂号费 " + d.fee + " 元 / Registration fee " + d.fee + " yuan" :
        "挂号费请到窗口询问 / The desk tells you the fee";
      $("[data-desk-time]").textContent = d.issued_at;
      $("[data-desk-qr]").innerHTML = d.code_qr;  // an SVG the server drew from the slip's code
      $("[data-desk-code]").textContent = d.code;
      show("desk");
      printed(d);
    }, fail);
  }
  function printed(d) {
    var status = $("[data-desk-status]");
    status.className = "notice";
    root.dataset.printerState = d.printer_state;
    if (d.by_browser) {
      status.textContent = T.desk_printing;
      window.print();
    } else if (d.printed) {
      status.textContent = T.desk_printing;
    } else {
      status.textContent = d.message || T.print_error;
      status.className = "notice notice-error";
      say(status.textContent);
    }
  }
  function printDeskSlip() {
    api("POST", "/walk-in/desk-slip", { department_id: state.department }).then(printed, fail);
  }

  // ---- the on-screen keypad ----------------------------------------------------------------
  function press(key) {
    var pad = key.closest("[data-keypad-for]");
    var input = document.getElementById(pad.dataset.keypadFor);
    var value = input.value, max = Number(input.getAttribute("maxlength")) || 32;
    var k = key.dataset.key;
    if (k === "back") value = value.slice(0, -1);
    else if (k === "clear") value = "";
    else if (value.length < max) value += k;
    input.value = value;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
    armIdle();
  }
  root.addEventListener("input", function (event) {
    // An ID typed on a keyboard: the final check character is a capital X.
    if (event.target.id === "k-id") event.target.value = event.target.value.replace(/x/g, "X");
  });

  var actions = {
    "check-in": function () { state.flow = "check-in"; show("identify"); },
    "walk-in": function () { state.flow = "walk-in"; departments(); },
    "reprint": function () { state.flow = "reprint"; show("identify"); },
    "report": function () { state.flow = "report"; show("identify"); },
    "call-staff": function () { api("POST", "/help").then(function () { show("help"); }, fail); },
    "by-qr": function () {
      $('[data-action="camera"]').hidden = !("BarcodeDetector" in window);
      state.lastInput = "scan"; show("scan");
    },
    "by-phone": function () { state.lastInput = "phone"; show("phone"); },
    "by-id": function () { state.lastInput = "id"; show("id"); },
    "anonymous": function () { state.proof = null; proven(); },
    "camera": startCamera,
    "no-phone": deskSlip,
    "print-desk-slip": printDeskSlip,
    "print-again": printTicket,
    "leave-payment": leavePayment,
    "done": reset,
    "home": function () { wipe(); state.flow = null; show("start"); },
    "retry": function () { show(state.lastInput || "start"); },
    "continue": function () { hideWarning(); armIdle(); },
    "elder": function () {
      state.elder = !state.elder;
      document.body.classList.toggle("elder", state.elder);
      document.body.classList.toggle("standard", !state.elder);
      $('[data-action="elder"]').setAttribute("aria-pressed", String(state.elder));
      var screen = $('[data-screen="' + state.screen + '"]');
      say(screen.dataset.say);
      armIdle();
    }
  };
  root.addEventListener("click", function (event) {
    var key = event.target.closest("[data-key]");
    if (key) { event.preventDefault(); press(key); return; }
    var button = event.target.closest("[data-action]");
    if (!button || !actions[button.dataset.action] || button.tagName === "A") return;
    if (button.type === "submit") return; // the form's submit handler acts
    event.preventDefault();
    actions[button.dataset.action]();
  });

  var forms = {
    scan: function (form) { scanned(form.code.value); },
    phone: function (form) {
      state.phone = form.phone.value.trim();
      api("POST", "/codes", { phone: state.phone, language: root.dataset.lang }).then(function (d) {
        $("[data-code-sent]").textContent = fill(T.code_sent, { phone: d.masked_phone });
        state.lastInput = "code";
        show("code");
      }, fail);
    },
    code: function (form) {
      api("POST", "/codes/verify", { phone: state.phone, code: form.code.value.trim() }).then(function (d) {
        state.proof = { confirmation: d.confirmation };
        state.people = d.people || [];
        proven(d.appointments && d.appointments.length ? d.appointments : null);
      }, fail);
    },
    id: function (form) {
      state.proof = { id_number: form.id_number.value.trim() };
      proven();
    }
  };
  $$("form[data-form]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      forms[form.dataset.form](form);
      form.querySelectorAll("input").forEach(function (i) { if (form.dataset.form !== "code") i.blur(); });
    });
  });

  heartbeatTimer = setInterval(heartbeat, cfg.heartbeat * 1000);
  show("start");
})();
