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

  // What the page offers only without JavaScript (e.g. "Show this program's fields": with it, htmx
  // swaps the sections as the program changes). Removed, not hidden, so it is never the button that
  // Enter in a text field presses.
  function removeWithoutJs() {
    document.querySelectorAll("[data-without-js]").forEach(function (element) { element.remove(); });
  }

  // Referral form: a search box narrows the referring-provider list by name, NPI or practice. The
  // options are rebuilt rather than hidden, since tablets' Safari shows hidden options anyway.
  function providerSearch() {
    const box = document.querySelector("[data-provider-search]");
    const select = box && document.getElementById(box.querySelector("input").getAttribute("aria-controls"));
    if (!select) return;
    const input = box.querySelector("input");
    const count = box.querySelector("[data-provider-count]");
    const options = Array.from(select.options);
    const total = options.filter(function (option) { return option.value; }).length;
    box.hidden = false;
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.preventDefault();  // searching, not sending the referral
    });
    input.addEventListener("input", function () {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      const chosen = select.value;
      const shown = options.filter(function (option) {
        const text = option.dataset.search || "";
        return !option.value || words.every(function (word) { return text.indexOf(word) >= 0; });
      });
      const found = shown.filter(function (option) { return option.value; });
      select.replaceChildren.apply(select, shown);
      if (found.some(function (option) { return option.value === chosen; })) {
        select.value = chosen;
      } else {
        select.value = found.length === 1 ? found[0].value : "";
      }
      count.textContent = words.length ? found.length + " of " + total + " providers" : "";
    });
  }

  document.addEventListener("DOMContentLoaded", startIdleWarning);
  document.addEventListener("DOMContentLoaded", removeWithoutJs);
  document.addEventListener("DOMContentLoaded", providerSearch);
})();
