/**
 * The per-subset averages of Table 1 of Mahbod et al. 2019: over the test images of organs seen in
 * training ('seen'), of the other organs ('unseen'), and over every test image ('all'). An average
 * is the plain mean over images (each image weighs the same, as in the paper); a subset without
 * images has none (null). Every table, summary and comparison of per-image scores averages here.
 */
export const SUBSETS = ['seen', 'unseen', 'all'] as const;
export type SubsetName = (typeof SUBSETS)[number];

/** The rows of one subset ('all': every row). */
export function inSubset<R extends { readonly subset: string }>(rows: readonly R[], subset: SubsetName): R[] {
  return subset === 'all' ? [...rows] : rows.filter((r) => r.subset === subset);
}

/** `reduce` applied to the rows of each subset. */
export function perSubset<R extends { readonly subset: string }, T>(
  rows: readonly R[],
  reduce: (rows: R[]) => T,
): Record<SubsetName, T> {
  return {
    seen: reduce(inSubset(rows, 'seen')),
    unseen: reduce(inSubset(rows, 'unseen')),
    all: reduce([...rows]),
  };
}

/** Mean of each of `keys` over rows; null without rows. */
export function meanOf<K extends string>(
  rows: readonly Readonly<Record<K, number>>[],
  keys: readonly K[],
): Record<K, number> | null {
  if (rows.length === 0) return null;
  const out = {} as Record<K, number>;
  for (const k of keys) {
    let s = 0;
    for (const r of rows) s += r[k];
    out[k] = s / rows.length;
  }
  return out;
}

/** Mean of each of `keys` per subset. */
export function subsetMeans<
  K extends string,
  R extends { readonly subset: string } & Readonly<Record<K, number>>,
>(rows: readonly R[], keys: readonly K[]): Record<SubsetName, Record<K, number> | null> {
  return perSubset(rows, (rs) => meanOf(rs, keys));
}
