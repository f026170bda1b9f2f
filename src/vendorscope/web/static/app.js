// Small behaviours of the dashboard; loaded as a file (the Content-Security-Policy allows no inline script).
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form instanceof HTMLFormElement && form.classList.contains("confirm") && !window.confirm("Are you sure?")) {
    event.preventDefault();
  }
});
