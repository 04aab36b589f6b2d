/** Display rules shared by every page. Scores are stored as fractions in [0, 1] and shown as percentages. */

export function pct(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined || Number.isNaN(v) ? '—' : (v * 100).toFixed(digits);
}

/** A signed difference of two fractions, in percentage points. */
export function deltaPct(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  const s = (v * 100).toFixed(digits);
  return v > 0 && Number(s) !== 0 ? `+${s}` : Number(s) === 0 ? (0).toFixed(digits) : s;
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function armLabel(arm: unknown): string {
  if (!arm || typeof arm !== 'object') return '';
  const entries = Object.entries(arm as Record<string, unknown>);
  return entries.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
}

export function isoTime(d: Date | string | null | undefined): string {
  if (!d) return '—';
  const t = typeof d === 'string' ? new Date(d) : d;
  return Number.isNaN(t.getTime()) ? '—' : t.toISOString().replace('T', ' ').slice(0, 19);
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * Background colour for a delta: green when the run is better, red when worse; stronger with
 * the size of the change, saturating at 5 percentage points.
 */
export function deltaColour(d: number | null | undefined): string {
  if (d === null || d === undefined || Number.isNaN(d) || d === 0) return 'transparent';
  const a = Math.min(1, Math.abs(d) / 0.05) * 0.55 + 0.1;
  return d > 0 ? `rgba(22, 163, 74, ${a.toFixed(2)})` : `rgba(220, 38, 38, ${a.toFixed(2)})`;
}
