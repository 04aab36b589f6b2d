// Pixel-level Dice of the foregrounds (the semantic score reported beside AJI by Mahbod et al. 2019).
import type { Pairing } from './pairing.ts';

/** 2|A ∩ B| / (|A| + |B|) over foreground (id > 0) pixels; both foregrounds empty -> 1. */
export function foregroundDice(t: Pairing): number {
  const sum = t.gtForeground + t.predForeground;
  return sum === 0 ? 1 : (2 * t.foregroundInter) / sum;
}
