// Driving the dashboard's image viewer from the browser tests.
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/**
 * In the dashboard's image viewer, switches the intermediate map `map` on and waits until the
 * viewer lists it as a layer and the canvas pixels have changed.
 */
export async function showViewerMap(page: Page, map: string): Promise<void> {
  const canvas = () =>
    page.evaluate(() => (document.getElementById('canvas') as HTMLCanvasElement).toDataURL());
  const before = await canvas();
  await page.check(`#map-${map}`);
  await expect.poll(() => page.locator('#stage').getAttribute('data-layers')).toContain(`map:${map}`);
  await expect.poll(canvas).not.toBe(before);
}
