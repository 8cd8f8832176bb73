// Row click opens the record; no inline scripts anywhere (Content-Security-Policy friendly).
document.addEventListener("click", function (event) {
  const row = event.target.closest("tr[data-href]");
  if (row && !event.target.closest("a, button, input, select, label")) {
    window.location.href = row.dataset.href;
  }
});
document.addEventListener("keydown", function (event) {
  const row = event.target.closest && event.target.closest("tr[data-href]");
  if (row && event.key === "Enter") {
    window.location.href = row.dataset.href;
  }
});
