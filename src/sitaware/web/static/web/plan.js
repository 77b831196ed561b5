// Patrol-plan forms, progressive enhancement only (every form works as a plain post without this script):
// - /plans/new: say that the request is being sent, and take the focus to the errors.
// - a plan being computed (/plans/proposals/<id>/): instead of reloading itself, the page is fetched again every
//   few seconds and its progress replaced in place (nothing moves under a screen reader's cursor); a change of
//   state is announced. When the plan is made the server answers the fetch with a redirect: the page then loads
//   itself, which takes it to the plan. A proposal that ends without a plan is loaded the same way.
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

  const proposal = document.getElementById("proposal");
  if (proposal && proposal.dataset.poll) {
    const every = Number(proposal.dataset.poll) * 1000;
    const live = document.getElementById("proposal-live");
    let shown = proposal;
    const poll = async () => {
      try {
        const response = await fetch(window.location.href, {
          credentials: "same-origin", redirect: "manual", cache: "no-store", headers: { "X-Sitaware-Poll": "1" },
        });
        const fresh = response.ok
          ? new DOMParser().parseFromString(await response.text(), "text/html").getElementById("proposal") : null;
        if (!fresh || !fresh.dataset.poll) {
          window.location.reload(); // made (a redirect), failed, or gone: the page as the server shows it now
          return;
        }
        const changed = fresh.dataset.state !== shown.dataset.state;
        shown.replaceWith(fresh);
        shown = fresh;
        if (changed && live) {
          const now = fresh.querySelector("#proposal-now");
          live.textContent = `${fresh.querySelector("h2").textContent} ${now ? now.textContent : ""}`.trim();
        }
      } catch (error) {
        // The network came and went: try again at the next tick.
      }
      setTimeout(poll, every);
    };
    setTimeout(poll, every);
  }

  const editSection = document.getElementById("plan-edit");
  if (editSection) {
    bindEdit(editSection);
    const errors = document.getElementById("edit-errors");
    if (errors) errors.focus();
  }
})();
