// Opens forms that htmx loads into the <dialog>, and closes it on Cancel or Escape.
document.addEventListener("htmx:afterSwap", (event) => {
  const modal = document.getElementById("modal");
  if (event.detail.target === modal && !modal.open) {
    modal.showModal();
    const first = modal.querySelector("input:not([type=hidden]):not([disabled]), select, textarea");
    if (first) first.focus();
  }
});
document.addEventListener("click", (event) => {
  const close = event.target.closest("#modal [data-close]");
  if (close) {
    event.preventDefault();
    document.getElementById("modal").close();
  }
});

// Counts down to a <time data-countdown> (a failover's deadline), once a second, between polls.
setInterval(() => {
  for (const element of document.querySelectorAll("time[data-countdown]")) {
    const left = Math.round((Date.parse(element.getAttribute("datetime")) - Date.now()) / 1000);
    if (!element.dataset.label) element.dataset.label = element.textContent;
    element.textContent = left > 0 ? `${element.dataset.label} (in ${left} s)` : element.dataset.label;
  }
}, 1000);
