// @ts-check
/**
 * Runs list: live updates over server-sent events (the server pushes when the runs change, the
 * page then refetches its rows as server-rendered HTML), and filters that apply as you type.
 * Without JavaScript the filter form and the sort links still work as plain links.
 */
(() => {
  const body = /** @type {HTMLElement} */ (document.getElementById('runs-body'));
  const form = /** @type {HTMLFormElement} */ (document.getElementById('filters'));
  const live = document.getElementById('live');
  const count = document.getElementById('count');
  if (!body || !form) return;

  function currentQuery() {
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (typeof v === 'string' && v) p.set(k, v);
    return p;
  }

  let inflight = 0;
  async function refresh() {
    const p = currentQuery();
    p.set('fragment', 'rows');
    const mine = ++inflight;
    const res = await fetch(`/?${p}`, { credentials: 'same-origin' });
    if (!res.ok || mine !== inflight) return;
    const checked = new Set(
      [...body.querySelectorAll('input[name="runs"]:checked')].map(
        (i) => /** @type {HTMLInputElement} */ (i).value,
      ),
    );
    body.innerHTML = await res.text();
    for (const i of body.querySelectorAll('input[name="runs"]')) {
      const box = /** @type {HTMLInputElement} */ (i);
      box.checked = checked.has(box.value);
    }
    if (count) count.textContent = String(body.querySelectorAll('tr[data-run]').length);
    body.dispatchEvent(new CustomEvent('runs-updated', { bubbles: true }));
  }

  let timer = 0;
  form.addEventListener('input', () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => {
      const p = currentQuery();
      history.replaceState(null, '', p.toString() ? `/?${p}` : '/');
      refresh();
    }, 200);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    refresh();
  });

  const es = new EventSource('/events/runs');
  let first = true;
  es.addEventListener('hello', () => {
    live?.classList.add('on');
    // Reconnects after a dropped connection may have missed changes.
    if (!first) refresh();
    first = false;
  });
  es.addEventListener('runs', () => refresh());
  es.addEventListener('error', () => live?.classList.remove('on'));
})();
