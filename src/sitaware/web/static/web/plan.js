// Patrol-plan forms, progressive enhancement only (every form works as a plain post without this script):
// - /plans/new: say that the search is running while the form is sent, and take the focus to the errors.
// - the plan page's edit form: "Preview" is sent with fetch and the edit section is replaced in place, so the
//   page (and its map) stays where it is; "Save" and "Start over" post as usual. Any failure falls back to the
//   plain post.
(function () {
  "use strict";
  const planForm = document.getElementById("plan-form");
  if (planForm) {
    const status = document.getElementById("plan-form-status");
    const button = document.getElementById("pf-submit");
    planForm.addEventListener("submit", (event) => {
      if (event.submitter !== button) return; // "Add a unit" only shows the form again
      status.textContent = status.dataset.working;
      // Disabled after the submit has started, so the button's own value is not what stops a second request.
      setTimeout(() => { button.disabled = true; }, 0);
    });
    const errors = document.getElementById("plan-errors");
    if (errors) errors.focus();
  }

  function plainPost(form, action) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = "action";
    input.value = action;
    form.appendChild(input);
    HTMLFormElement.prototype.submit.call(form);
  }

  function bindEdit(section) {
    const form = section.querySelector("#edit-form");
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      const button = event.submitter;
      if (!button || button.value !== "preview") return;
      event.preventDefault();
      const data = new FormData(form);
      data.set("action", "preview");
      const status = section.querySelector("#edit-status");
      if (status) status.textContent = status.dataset.working;
      button.disabled = true;
      try {
        // form.action would be the buttons named "action": read the attribute.
        const response = await fetch(form.getAttribute("action"), {
          method: "POST", body: data, credentials: "same-origin",
        });
        const doc = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = doc.getElementById("plan-edit");
        if (!fresh) {
          plainPost(form, "preview");
          return;
        }
        section.replaceWith(fresh);
        bindEdit(fresh);
        const target = fresh.querySelector("#edit-errors") || fresh.querySelector("#edit-preview");
        if (target) {
          target.setAttribute("tabindex", "-1");
          target.focus();
        }
      } catch (error) {
        plainPost(form, "preview");
      }
    });
  }

  const editSection = document.getElementById("plan-edit");
  if (editSection) {
    bindEdit(editSection);
    const errors = document.getElementById("edit-errors");
    if (errors) errors.focus();
  }
})();
