// QuPath-compatible GeoJSON: one Feature per nucleus, classification "Nucleus" (QuPath's detection import format).
//
// Field names follow QuPath >= 0.4's GeoJSON (qupath-core's QuPathTypeAdapters.PathObjectTypeAdapter): Feature
// `id` a UUID string; properties `objectType`, `classification` {name, color}, `isLocked`, and `measurements` as a
// flat name -> number object. Our own fields go under `properties.nucleiflow`, which QuPath ignores. Geometry is
// the pixel-edge outline (outlines.ts): a Polygon, or a MultiPolygon for a nucleus in pieces that meet at corners.
import { createHash, randomUUID } from 'node:crypto';
import type { Outline, PolygonRings } from './outlines.ts';

export interface NucleusFeatureProps {
  readonly area?: number;
}

export interface NucleusFeatureInput {
  /** Polygons (shell, then holes; closed rings, first position repeated last), level-0 pixel coordinates. */
  readonly polygons: readonly PolygonRings[];
  /** QuPath measurement name (with unit) -> value; null, undefined and non-finite values are left out. */
  readonly measurements?: Readonly<Record<string, number | null | undefined>>;
  /** Our own members, e.g. {id, region, cut}. */
  readonly nucleiflow: Readonly<Record<string, unknown>>;
  /** The Feature's UUID; a random one when absent. */
  readonly uuid?: string;
}

export interface NucleusFeature {
  readonly type: 'Feature';
  readonly id: string;
  readonly geometry:
    | { readonly type: 'Polygon'; readonly coordinates: PolygonRings }
    | { readonly type: 'MultiPolygon'; readonly coordinates: readonly PolygonRings[] };
  readonly properties: {
    readonly objectType: 'detection';
    readonly classification: { readonly name: 'Nucleus'; readonly color: readonly [number, number, number] };
    readonly isLocked: false;
    readonly measurements?: Readonly<Record<string, number>>;
    readonly nucleiflow: Readonly<Record<string, unknown>>;
  };
}

/** The one builder of a nucleus Feature, for the tile and the slide outputs. Throws on a ring that is not closed. */
export function nucleusFeature(input: NucleusFeatureInput): NucleusFeature {
  const { polygons } = input;
  if (polygons.length === 0) throw new RangeError('nucleusFeature: no polygon');
  for (const poly of polygons) {
    if (poly.length === 0) throw new RangeError('nucleusFeature: a polygon without a shell');
    for (const ring of poly) {
      const a = ring[0];
      const b = ring.at(-1);
      if (ring.length < 4 || !a || !b || a[0] !== b[0] || a[1] !== b[1]) {
        throw new RangeError(
          `nucleusFeature: a Polygon ring needs >= 4 positions, first = last; got ${ring.length}`,
        );
      }
    }
  }
  const m: Record<string, number> = {};
  let any = false;
  for (const [k, v] of Object.entries(input.measurements ?? {})) {
    if (typeof v === 'number' && Number.isFinite(v)) {
      m[k] = v;
      any = true;
    }
  }
  return {
    type: 'Feature',
    id: input.uuid ?? randomUUID(),
    geometry:
      polygons.length === 1
        ? { type: 'Polygon', coordinates: polygons[0]! }
        : { type: 'MultiPolygon', coordinates: polygons },
    properties: {
      objectType: 'detection',
      classification: { name: 'Nucleus', color: [0, 200, 0] },
      isLocked: false,
      ...(any ? { measurements: m } : {}),
      nucleiflow: input.nucleiflow,
    },
  };
}

/** Namespace of nameUuid (RFC 4122's URL namespace). */
const NAMESPACE = Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex');

/** A name-based UUID (RFC 4122 version 5, SHA-1): the same name always gives the same id, so reruns match. */
export function nameUuid(name: string): string {
  const h = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * A FeatureCollection with one `Feature` per outline; ids are kept as `properties.nucleiflow.id`, the area as
 * measurement 'Area px'. `model`, when given, becomes a top-level `model` member naming what made the outlines
 * (GeoJSON allows foreign members; QuPath ignores them). With `idSeed` (e.g. the image name) the Feature UUIDs are
 * name-based on it and the outline id, so the same input gives the same file; without, they are random.
 */
export function nucleiGeoJson(
  outlines: readonly Outline[],
  extra: ReadonlyMap<number, NucleusFeatureProps> = new Map(),
  model?: Readonly<Record<string, unknown>>,
  idSeed?: string,
): string {
  const features = outlines.map((c) =>
    nucleusFeature({
      polygons: c.polygons,
      measurements: { 'Area px': extra.get(c.id)?.area },
      nucleiflow: { id: c.id },
      ...(idSeed === undefined ? {} : { uuid: nameUuid(`${idSeed}\n${c.id}`) }),
    }),
  );
  return `${JSON.stringify({ type: 'FeatureCollection', ...(model ? { model } : {}), features })}\n`;
}
