// QuPath-compatible GeoJSON: one Polygon Feature per nucleus, classification "Nucleus" (QuPath's detection import format).
import type { Contour } from './contours.ts';

export interface NucleusFeatureProps {
  readonly area?: number;
}

/**
 * A FeatureCollection with one `Feature` per contour; ids are kept as `properties.id`. `model`, when
 * given, becomes a top-level `model` member naming what made the outlines (GeoJSON allows foreign
 * members; QuPath ignores them).
 */
export function nucleiGeoJson(
  contours: readonly Contour[],
  extra: ReadonlyMap<number, NucleusFeatureProps> = new Map(),
  model?: Readonly<Record<string, unknown>>,
): string {
  const features = contours.map((c) => ({
    type: 'Feature',
    id: `nucleus-${c.id}`,
    geometry: { type: 'Polygon', coordinates: [c.ring] },
    properties: {
      objectType: 'detection',
      classification: { name: 'Nucleus', color: [0, 200, 0] },
      isLocked: false,
      id: c.id,
      ...(extra.get(c.id)?.area !== undefined ? { measurements: { Area: extra.get(c.id)!.area } } : {}),
    },
  }));
  return `${JSON.stringify({ type: 'FeatureCollection', ...(model ? { model } : {}), features })}\n`;
}
