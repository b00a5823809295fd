/* The decision table editor and a row's actions (rules/admin/): rows move up and down (buttons,
   or Alt+ArrowUp / Alt+ArrowDown in the row), and each row or action shows only the inputs its
   trigger or kind reads. Without this script every input shows and positions are typed.
   Served from static files: the Content-Security-Policy allows no inline script. */
"use strict";
(function () {
  // The wrapper to hide with its input: a grid cell's, an action's, or a form row's.
  const WRAPPERS = ".rule-grid-input, .action-input, div.form-row";

  function scopeOf(element) {
    return element.closest("tr.form-row") || element.closest("form");
  }

  // Show only the inputs whose data-<kind> names the select's value (an empty value: none).
  function showFor(select, attribute) {
    const scope = scopeOf(select);
    if (!scope) return;
    scope.querySelectorAll(`[${attribute}]`).forEach((input) => {
      const wanted = input.getAttribute(attribute).split(" ");
      const wrapper = input.closest(WRAPPERS) || input;
      // An input holding an error stays in sight, whatever the choice.
      const hasError = wrapper.querySelector(".errorlist") !== null;
      wrapper.hidden = !hasError && !wanted.includes(select.value);
    });
  }

  function refresh(root) {
    root.querySelectorAll('select[name$="-trigger"], select[name="trigger"]').forEach((select) => {
      showFor(select, "data-triggers");
    });
    root.querySelectorAll('select[name$="-kind"]').forEach((select) => {
      showFor(select, "data-kinds");
    });
  }

  // A row counts once it exists or has a name: renumbering an empty extra row would make
  // Django save it (and refuse it, having no name).
  function inUse(row) {
    const name = row.querySelector('input[name$="-name"]');
    return row.classList.contains("has_original") || (name !== null && name.value.trim() !== "");
  }

  function renumber(tbody) {
    let position = 1;
    tbody.querySelectorAll("tr.form-row:not(.empty-form)").forEach((row) => {
      const input = row.querySelector('input[name$="-position"]');
      if (input && inUse(row)) {
        input.value = position;
        position += 1;
      }
    });
  }

  function move(row, direction) {
    const rows = Array.from(row.parentElement.querySelectorAll("tr.form-row:not(.empty-form)"));
    const index = rows.indexOf(row);
    const other = rows[direction === "up" ? index - 1 : index + 1];
    if (!other) return;
    if (direction === "up") other.before(row);
    else other.after(row);
    renumber(row.parentElement);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.rule-move");
    if (!button) return;
    move(button.closest("tr.form-row"), button.dataset.move);
    button.focus();
  });

  document.addEventListener("keydown", (event) => {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    const row = event.target.closest(".rule-grid tr.form-row");
    if (!row) return;
    event.preventDefault();
    move(row, event.key === "ArrowUp" ? "up" : "down");
    event.target.focus();
  });

  document.addEventListener("change", (event) => {
    const select = event.target;
    if (!(select instanceof HTMLSelectElement)) return;
    if (select.name.endsWith("trigger")) showFor(select, "data-triggers");
    if (select.name.endsWith("-kind")) showFor(select, "data-kinds");
  });

  // A row or action added by Django's inlines.js starts with its own choice applied.
  document.addEventListener("formset:added", (event) => refresh(event.target));
  document.addEventListener("DOMContentLoaded", () => refresh(document));
})();
