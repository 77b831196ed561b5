// Risk-map pages: say that the fit is running while the form is sent (the service computes in the request), and
// let the map be coloured by the expected count or either end of its 5-95% range (the uncertainty).
(function () {
  "use strict";
  const form = document.getElementById("risk-form");
  if (form) {
    const status = document.getElementById("risk-form-status");
    const button = document.getElementById("rf-submit");
    form.addEventListener("submit", () => {
      status.textContent = status.dataset.working;
      // Disabled after the submit has started, so the button's own value is not what stops a second request.
      setTimeout(() => { button.disabled = true; }, 0);
    });
    const errors = document.getElementById("risk-errors");
    if (errors) errors.focus();
  }
  const container = document.getElementById("risk-map");
  if (!container || !window.sitawareMapkit) return;
  const radios = document.querySelectorAll("input[name=colour-by]");
  const paint = (map, field) => {
    const current = map.getPaintProperty("risk-fill", "fill-color");
    const next = current.slice();
    next[1] = ["get", field];
    map.setPaintProperty("risk-fill", "fill-color", next);
  };
  window.sitawareMapkit.onReady(container, (map) => {
    const chosen = document.querySelector("input[name=colour-by]:checked");
    if (chosen && chosen.value !== "expected") paint(map, chosen.value);
  });
  radios.forEach((radio) => radio.addEventListener("change", () => {
    if (container.sitawareMap && container.dataset.mapkitState === "drawn") paint(container.sitawareMap, radio.value);
  }));
})();
