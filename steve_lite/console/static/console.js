// steve-lite review console: progressive enhancement only; every page works without it.
// 1. Fit each box overlay to its image's natural (EXIF-upright) size.
// 2. Highlight the box a focused field was read from.
// 3. Keyboard shortcuts for the common path.
"use strict";

function fitOverlays() {
  for (const stage of document.querySelectorAll(".stage")) {
    const img = stage.querySelector("img");
    const svg = stage.querySelector("svg.boxes");
    if (!img || !svg) continue;
    const fit = () => {
      if (img.naturalWidth > 0) {
        svg.setAttribute("viewBox", `0 0 ${img.naturalWidth} ${img.naturalHeight}`);
        svg.dataset.fitted = "true";
      }
    };
    if (img.complete) fit(); else img.addEventListener("load", fit);
  }
}

function highlight(field) {
  for (const box of document.querySelectorAll(".field-box")) {
    box.classList.toggle("active", box.dataset.field === field);
  }
  const active = document.querySelector(`.field-box[data-field="${CSS.escape(field || "")}"]`);
  if (active) active.closest("figure").scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

function shortcuts(event) {
  const form = document.getElementById("review-form");
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && form) {
    const approve = document.getElementById("approve-button");
    if (approve) { event.preventDefault(); form.requestSubmit(approve); }
    return;
  }
  if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
  if (event.target.id === "reject-reason" && event.key === "Enter") {
    const reject = document.getElementById("reject-button");
    if (reject && form) { event.preventDefault(); form.requestSubmit(reject); }
    return;
  }
  if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
  const click = (id) => {
    const button = document.getElementById(id);
    if (button && form) { event.preventDefault(); form.requestSubmit(button); }
  };
  if (event.key === "a") click("approve-button");
  else if (event.key === "s") click("save-button");
  else if (event.key === "r") {
    const reason = document.getElementById("reject-reason");
    if (reason) { event.preventDefault(); reason.focus(); }
  } else if (event.key === "n" || event.key === "j") {
    const next = document.getElementById("next-link");
    if (next) { event.preventDefault(); window.location.assign(next.href); }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  fitOverlays();
  for (const input of document.querySelectorAll("[data-field]")) {
    if (input.tagName === "polygon") continue;
    input.addEventListener("focus", () => highlight(input.dataset.field));
  }
  document.addEventListener("keydown", shortcuts);
});
