// Runs plan, regions and merge on one slide with the shipped nets, in its own process so its peak memory can be
// read: `node --import tsx testing/slide-run-child.ts <slide> <outDir>`. Prints one JSON line at exit:
// { regions, nuclei, maxRssKb } (maxRssKb: process.resourceUsage().maxRSS, the process's peak resident set).

import { loadSegmenter } from '../src/model/infer.ts';
import { SHIPPED_MODEL_DIR } from '../src/model/model-dir.ts';
import { mergeSlide, planSlide, type SlideJob, segmentSlideRegions } from '../src/slide/pipeline.ts';
import { shippedSlideModel } from './test-slide.ts';

async function main(): Promise<void> {
  const [slide, outDir] = process.argv.slice(2);
  if (!slide || !outDir) throw new Error('usage: slide-run-child.ts <slide> <outDir>');
  const nets = await loadSegmenter(SHIPPED_MODEL_DIR);
  try {
    const job: SlideJob = {
      slide,
      outDir,
      model: await shippedSlideModel(),
    };
    const plan = await planSlide(job, { segmenter: nets });
    await segmentSlideRegions(job, plan.regions, nets);
    const summary = await mergeSlide(job);
    const line = {
      regions: plan.regions.length,
      nuclei: summary.nuclei,
      maxRssKb: process.resourceUsage().maxRSS,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  } finally {
    nets.dispose();
  }
}

await main();
