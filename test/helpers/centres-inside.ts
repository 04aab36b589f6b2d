// Rings rasterised back for tests: the pixels of a box whose centres lie inside (even-odd rule over all rings), an
// independent check of the outline tracer's pixel-centre convention.

/** A 0/1 mask over `box` (level-0 pixels): 1 where the pixel centre (x + 0.5, y + 0.5) is inside `rings`. */
export function centresInside(
  rings: readonly (readonly (readonly [number, number])[])[],
  box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number },
): Uint8Array {
  const out = new Uint8Array(box.width * box.height);
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const px = box.x + x + 0.5;
      const py = box.y + y + 0.5;
      let c = false;
      for (const ring of rings) {
        for (let i = 0; i + 1 < ring.length; i++) {
          const [ax, ay] = ring[i]!;
          const [bx, by] = ring[i + 1]!;
          if (ay > py !== by > py && px < ((bx - ax) * (py - ay)) / (by - ay) + ax) c = !c;
        }
      }
      out[y * box.width + x] = c ? 1 : 0;
    }
  }
  return out;
}
