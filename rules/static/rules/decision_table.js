/* The decision table editor and a row's actions (rules/admin/): rows and the grid's actions
   move up and down (buttons, or Alt+ArrowUp / Alt+ArrowDown in the row or the action), the
   grid adds and removes a row's actions, and each row or action shows only the inputs its
   trigger or kind reads. Without this script every input shows and positions are typed.
   Served from static files: the Content-Security-Policy allows no inline script. */
"use strict";
(function () {
  // The wrapper to hide with its input: a grid cell's, an action's, or a form row's.
  const WRAPPERS = ".rule-grid-input, .action-input, div.form-row";
  // Where a kind or trigger select reads: a grid action, else its row, else the whole form.
  const SCOPES = "li.grid-action, tr.form-row";

  function scopeOf(element) {
    return element.closest(SCOPES) || element.closest("form");
  }

  // Show only the inputs whose data-<kind> names the select's value (an empty value: none).
  function showFor(select, attribute) {
    const scope = scopeOf(select);
    if (!scope) return;
    scope.querySelectorAll(`[${attribute}]`).forEach((input) => {
      // A grid action's inputs are its own business, not its row's.
      if (scopeOf(input) !== scope) return;
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
    tbody.querySelectorAll(":scope > tr.form-row:not(.empty-form)").forEach((row) => {
      // The row's own position, not one of its actions'.
      const input = row.querySelector('input[name$="-position"]:not([name*="-actions-"])');
      if (input && inUse(row)) {
        input.value = position;
        position += 1;
      }
    });
  }

  function move(row, direction) {
    const rows = Array.from(row.parentElement.querySelectorAll(":scope > tr.form-row:not(.empty-form)"));
    const index = rows.indexOf(row);
    const other = rows[direction === "up" ? index - 1 : index + 1];
    if (!other) return;
    if (direction === "up") other.before(row);
    else other.after(row);
    renumber(row.parentElement);
  }

  // ---- A row's actions in the grid (grid_actions.html) ----

  // The row's action formset: its management form names its prefix (rules-3-actions), which
  // Django's inlines.js keeps right when rows are added or removed.
  function actionsOf(list) {
    const container = list.closest(".grid-actions");
    const total = container.querySelector('input[name$="-TOTAL_FORMS"]');
    const initial = container.querySelector('input[name$="-INITIAL_FORMS"]');
    return { list, total, initial: Number(initial.value), prefix: total.name.slice(0, -"-TOTAL_FORMS".length) };
  }

  function positionOf(item) {
    return item.querySelector('input[name$="-position"]');
  }

  function renumberActions(list) {
    list.querySelectorAll(":scope > li.grid-action").forEach((item, index) => {
      positionOf(item).value = index + 1;
    });
  }

  // Give a new action's inputs the names of form `index` of the formset (`from` is what they
  // hold now: the template's __actions__, or the action's old prefix and index).
  function rename(item, from, to) {
    item.querySelectorAll("[name], [id], label[for], [aria-describedby]").forEach((element) => {
      for (const attribute of ["name", "id", "for", "aria-describedby"]) {
        const value = element.getAttribute(attribute);
        if (value !== null) element.setAttribute(attribute, value.replace(from, to));
      }
    });
  }

  function addAction(button) {
    const template = document.getElementById("grid-action-template");
    const actions = actionsOf(button.closest(".grid-actions").querySelector(".grid-action-list"));
    const index = Number(actions.total.value);
    const item = template.content.firstElementChild.cloneNode(true);
    rename(item, "__actions__", `${actions.prefix}-${index}`);
    const positions = Array.from(actions.list.querySelectorAll('input[name$="-position"]'));
    positionOf(item).value = Math.max(0, ...positions.map((input) => Number(input.value) || 0)) + 1;
    actions.list.append(item);
    actions.total.value = index + 1;
    refresh(item);
    item.querySelector('select[name$="-kind"]').focus();
  }

  // A new action taken away: the new ones after it take its index, as Django's formset
  // expects new forms numbered without a gap.
  function removeAction(item) {
    const actions = actionsOf(item.parentElement);
    item.remove();
    const others = Array.from(actions.list.querySelectorAll(":scope > li.grid-action:not(.has_original)"));
    // In the order of their indexes, which moving them up and down does not change.
    const indexOf = (other) => Number(positionOf(other).name.slice(actions.prefix.length + 1).split("-")[0]);
    others.sort((a, b) => indexOf(a) - indexOf(b));
    let index = actions.initial;
    others.forEach((other) => {
      const old = indexOf(other);
      if (old !== index) rename(other, `${actions.prefix}-${old}-`, `${actions.prefix}-${index}-`);
      index += 1;
    });
    actions.total.value = index;
  }

  function moveAction(item, direction) {
    const other = direction === "up" ? item.previousElementSibling : item.nextElementSibling;
    if (!other) return;
    if (direction === "up") other.before(item);
    else other.after(item);
    renumberActions(item.parentElement);
  }

  document.addEventListener("click", (event) => {
    const target = event.target;
    const add = target.closest("button.grid-action-add");
    if (add) {
      addAction(add);
      return;
    }
    const remove = target.closest("button.grid-action-remove");
    if (remove) {
      const list = remove.closest(".grid-action-list");
      const container = list.closest(".grid-actions");
      removeAction(remove.closest("li.grid-action"));
      container.querySelector("button.grid-action-add")?.focus();
      return;
    }
    const moveButton = target.closest("button.grid-action-move");
    if (moveButton) {
      moveAction(moveButton.closest("li.grid-action"), moveButton.dataset.move);
      moveButton.focus();
      return;
    }
    const button = target.closest("button.rule-move");
    if (!button) return;
    move(button.closest("tr.form-row"), button.dataset.move);
    button.focus();
  });

  document.addEventListener("keydown", (event) => {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    const direction = event.key === "ArrowUp" ? "up" : "down";
    const action = event.target.closest(".rule-grid li.grid-action");
    const row = event.target.closest(".rule-grid tr.form-row");
    if (!action && !row) return;
    event.preventDefault();
    if (action) moveAction(action, direction);
    else move(row, direction);
    event.target.focus();
  });

  document.addEventListener("change", (event) => {
    const select = event.target;
    if (select instanceof HTMLInputElement && select.name.endsWith("-DELETE")) {
      select.closest("li.grid-action")?.classList.toggle("removed", select.checked);
    }
    if (!(select instanceof HTMLSelectElement)) return;
    if (select.name.endsWith("trigger")) showFor(select, "data-triggers");
    if (select.name.endsWith("-kind")) showFor(select, "data-kinds");
  });

  // A row or action added by Django's inlines.js starts with its own choice applied.
  document.addEventListener("formset:added", (event) => refresh(event.target));
  document.addEventListener("DOMContentLoaded", () => refresh(document));
})();
