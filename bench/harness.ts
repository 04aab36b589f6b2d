/** One benchmark result: our time, and the reference implementation's time measured in the same run. */
export interface BenchRow {
  name: string;
  oursMs: number;
  refName?: string;
  refMs?: number;
  peakRssMB?: number;
  note?: string;
}
