// @ts-check
/**
 * Run page while the run trains: polls the run's curves every few seconds and redraws them;
 * reloads the page once the status changes (results, timings and downloads then appear).
 */
(() => {
  const info = document.getElementById('run-info');
  if (!info) return;
  /** @type {{id: string, status: string}} */
  const run = JSON.parse(info.textContent || '{}');
  if (run.status !== 'running' && run.status !== 'pending') return;
  let last = '';
  const tick = async () => {
    try {
      const res = await fetch(`/api/runs/${encodeURIComponent(run.id)}/charts`, {
        credentials: 'same-origin',
      });
      if (!res.ok) return;
      const body = await res.json();
      if (body.status !== run.status) {
        location.reload();
        return;
      }
      const text = JSON.stringify(body.charts);
      if (text !== last) {
        last = text;
        /** @type {any} */ (window).nfCharts?.render(body.charts);
      }
    } catch {
      // The server may be restarting; try again on the next tick.
    }
  };
  setInterval(tick, 4000);
})();
