// Patchbay's only script: opens dialogs that htmx loads, closes them, returns focus to
// the button that opened them, and gives tab lists arrow-key navigation.
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
