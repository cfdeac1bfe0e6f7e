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
