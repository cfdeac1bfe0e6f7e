// Opens forms that htmx loads into the <dialog> (the focus on its first field), and closes it on
// Cancel or Escape. A form sent back refused keeps the dialog open, the focus on the first field
// in error, so a keyboard user lands where the refusal is.
const FIELDS = "input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])";
document.addEventListener("htmx:afterSwap", (event) => {
  const modal = document.getElementById("modal");
  if (event.detail.target !== modal) return;
  if (!modal.open) modal.showModal();
  const target = modal.querySelector(`.field.invalid :is(${FIELDS})`) || modal.querySelector(FIELDS);
  if (target) target.focus();
});
document.addEventListener("click", (event) => {
  const close = event.target.closest("#modal [data-close]");
  if (close) {
    event.preventDefault();
    document.getElementById("modal").close();
  }
});

// Counts down to a <time data-countdown> (a failover's deadline) once a second, and at once when a
// refreshed fragment brings a new one (else it would show no count until the next tick).
function countDown() {
  for (const element of document.querySelectorAll("time[data-countdown]")) {
    const left = Math.round((Date.parse(element.getAttribute("datetime")) - Date.now()) / 1000);
    if (!element.dataset.label) element.dataset.label = element.textContent;
    element.textContent = left > 0 ? `${element.dataset.label} (in ${left} s)` : element.dataset.label;
  }
}
setInterval(countDown, 1000);
document.addEventListener("DOMContentLoaded", countDown);
document.addEventListener("htmx:afterSwap", countDown);

// Announces, in the page's one live region, what a refreshed fragment says (its data-announce),
// only when that changed: screen readers do not announce a live region that is itself replaced,
// and a table read out every five seconds would drown everything else.
const announced = new Map();
function announceChanges(quiet) {
  const announcer = document.getElementById("announcer");
  const changed = [];
  for (const source of document.querySelectorAll("[data-announce][id]")) {
    const text = source.dataset.announce.replace(/\s+/g, " ").trim();
    if (announced.get(source.id) !== text) {
      announced.set(source.id, text);
      changed.push(text);
    }
  }
  if (announcer && changed.length && !quiet) announcer.textContent = changed.join(". ");
}
document.addEventListener("DOMContentLoaded", () => announceChanges(true));
document.addEventListener("htmx:afterSettle", () => announceChanges(false));

// A plain form with data-confirm asks first (a destructive action that has no dialog of its own);
// once sent, a plain form says it is working (data-busy) and cannot be sent twice. htmx forms
// have hx-disabled-elt instead.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.hasAttribute("hx-post")) return;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  form.setAttribute("aria-busy", "true");
  setTimeout(() => {
    for (const button of form.querySelectorAll("button[type=submit]")) {
      button.disabled = true;
      if (form.dataset.busy) button.textContent = form.dataset.busy;
    }
  }, 0);
});
// Back to a page from the browser's cache: its forms can be sent again.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  for (const form of document.querySelectorAll("form[aria-busy]")) {
    form.removeAttribute("aria-busy");
    for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = false;
  }
});

// A member form shows the SSH fields for Linux and the WinRM ones for Windows only; the hidden
// ones keep their values (a platform picked by mistake and changed back loses nothing).
function showPlatformFields(root) {
  for (const select of root.querySelectorAll("select[name=platform]")) {
    for (const field of select.form.querySelectorAll("[data-platform-only]")) {
      field.hidden = field.dataset.platformOnly !== select.value;
    }
  }
}
document.addEventListener("change", (event) => {
  if (event.target.matches("select[name=platform]")) showPlatformFields(event.target.form);
});
document.addEventListener("DOMContentLoaded", () => showPlatformFields(document));
document.addEventListener("htmx:afterSwap", (event) => showPlatformFields(event.detail.target));
