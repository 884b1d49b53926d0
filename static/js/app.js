// Small behaviours that earn their place: the idle sign-out warning and confirmations.
(function () {
  "use strict";

  function csrfToken() {
    const headers = document.body.getAttribute("hx-headers");
    try { return JSON.parse(headers)["X-CSRFToken"]; } catch (e) { return ""; }
  }

  // Automatic logoff: warn one minute before the server signs the user out.
  function startIdleWarning() {
    const timeout = parseInt(document.body.dataset.idleTimeout || "0", 10);
    if (!timeout) return;
    const banner = document.getElementById("idle-warning");
    const countdown = document.getElementById("idle-countdown");
    let lastActivity = Date.now();

    function reset() {
      lastActivity = Date.now();
      banner.hidden = true;
    }
    document.body.addEventListener("htmx:afterRequest", reset);
    document.getElementById("idle-stay").addEventListener("click", function () {
      fetch(document.body.dataset.keepaliveUrl, {
        method: "POST", credentials: "same-origin", headers: {"X-CSRFToken": csrfToken()},
      }).then(function (response) {
        if (response.ok) { reset(); } else { window.location.reload(); }
      });
    });
    setInterval(function () {
      const left = Math.round(timeout - (Date.now() - lastActivity) / 1000);
      if (left <= 0) {
        window.location.reload();  // the server has ended the session; show the sign-in page
      } else if (left <= 60) {
        countdown.textContent = left;
        banner.hidden = false;
      }
    }, 1000);
  }

  document.addEventListener("submit", function (event) {
    const message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // Referral forms: show only the clinical sections the chosen program needs.
  function showSectionsForProgram() {
    const select = document.querySelector("select[name=program]");
    if (!select) return;
    function update() {
      const option = select.options[select.selectedIndex];
      const type = option ? option.dataset.programType : "";
      document.querySelectorAll("fieldset[data-program-types]").forEach(function (fieldset) {
        const types = fieldset.dataset.programTypes.split(" ");
        const hasValues = Array.from(fieldset.querySelectorAll("input, select, textarea")).some(function (input) {
          return input.type === "checkbox" ? input.checked : input.value && input.value !== "";
        });
        fieldset.hidden = !(types.indexOf(type) >= 0 || hasValues);
      });
    }
    select.addEventListener("change", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", startIdleWarning);
  document.addEventListener("DOMContentLoaded", showSectionsForProgram);
})();
