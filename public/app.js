// Patchbay's only script: opens dialogs that htmx loads, closes them, returns focus to
// the button that opened them, gives tab lists arrow-key navigation, and keeps one menu of
// the main navigation open at a time (Escape or a click elsewhere closes it).
(function () {
  "use strict";
  let opener = null;

  document.addEventListener("click", function (event) {
    const trigger = event.target.closest("[hx-target='#dialog-root']");
    if (trigger) opener = trigger;
    const close = event.target.closest("[data-close-dialog]");
    if (close) {
      const dialog = close.closest("dialog");
      event.preventDefault();
      if (dialog) dialog.close();
      else window.location.href = "/integrations";
    }
  });

  // A form sent again clears the outcome of the last attempt at once: an old success (or
  // error) never stands beside a new attempt.
  document.addEventListener("htmx:beforeRequest", function (event) {
    const target = event.detail.target;
    if (!target || !event.detail.elt || event.detail.elt.tagName !== "FORM" || target === event.detail.elt) return;
    target.querySelectorAll("[role=alert], [role=status]").forEach(function (message) {
      message.remove();
    });
  });

  // A long upload shows how much has been sent.
  document.addEventListener("htmx:xhr:progress", function (event) {
    const bar = event.target.querySelector && event.target.querySelector("progress[data-upload-progress]");
    if (!bar || !event.detail.lengthComputable) return;
    bar.hidden = false;
    bar.max = event.detail.total;
    bar.value = event.detail.loaded;
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const target = event.detail.target;
    if (target && target.id === "dialog-root") {
      const dialog = target.querySelector("dialog");
      if (!dialog) return;
      dialog.addEventListener("close", function () {
        dialog.remove();
        if (opener && document.body.contains(opener)) opener.focus();
      });
      dialog.showModal();
      const selected = dialog.querySelector("[role=tab][aria-selected=true]");
      if (selected) selected.focus();
    }
    if (target && target.id === "integration-dialog-content") {
      const invalid = target.querySelector("[aria-invalid=true]");
      const focusable = invalid || target.querySelector("[role=tab][aria-selected=true]");
      if (focusable) focusable.focus();
    }
  });

  function closeMenus(except) {
    document.querySelectorAll("details.nav-section[open]").forEach(function (menu) {
      if (menu !== except) menu.open = false;
    });
  }
  document.addEventListener(
    "toggle",
    function (event) {
      if (event.target.matches && event.target.matches("details.nav-section") && event.target.open) closeMenus(event.target);
    },
    true,
  );
  document.addEventListener("click", function (event) {
    if (!event.target.closest("details.nav-section")) closeMenus(null);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    const menu = event.target.closest && event.target.closest("details.nav-section[open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });

  document.addEventListener("keydown", function (event) {
    const tab = event.target.closest && event.target.closest("[role=tab]");
    if (!tab || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    const tabs = Array.from(tab.closest("[role=tablist]").querySelectorAll("[role=tab]"));
    const next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    event.preventDefault();
    next.focus();
    next.click();
  });
})();
