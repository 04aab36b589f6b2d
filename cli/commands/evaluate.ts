import type { Command } from 'commander';
import { annotationXmlToLabels } from '../../src/data/annotations.ts';
import { assertSameLabelSize, readLabels } from '../../src/imaging/io.ts';
import type { LabelImage } from '../../src/imaging/types.ts';
import { EVAL_KEYS, type EvalResult, evaluate } from '../../src/metrics/index.ts';
import { action } from '../run-action.ts';

interface EvaluateOptions {
  pred: string;
  gt: string;
  json?: boolean;
}

const COUNTS: ReadonlySet<string> = new Set(['tp', 'fp', 'fn', 'nGt', 'nPred']);

function formatTable(r: EvalResult): string {
  return EVAL_KEYS.map((k) => `${k.padEnd(10)} ${COUNTS.has(k) ? String(r[k]) : r[k].toFixed(4)}\n`).join('');
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .description(
      'Score a predicted instance map against the ground truth: AJI (Kumar et al. 2017, the MoNuSeg rule), ' +
        'AJI+, pixel Dice, detection F1/precision/recall at IoU > 0.5, and panoptic quality',
    )
    .requiredOption('--pred <labels.png>', 'predicted 8/16-bit grayscale instance map (0 = background)')
    .requiredOption(
      '--gt <labels.png|annotation.xml>',
      'ground-truth instance map, or a MoNuSeg/Aperio XML rasterised at the prediction size',
    )
    .option('--json', `print one JSON object with the keys ${EVAL_KEYS.join(', ')}`)
    .action(
      action(async (opts: EvaluateOptions) => {
        const pred = await readLabels(opts.pred);
        let gt: LabelImage;
        if (/\.xml$/i.test(opts.gt)) {
          // Our own rasterisation may leave ids with no pixel; metrics count the ids present.
          gt = (await annotationXmlToLabels(opts.gt, { width: pred.width, height: pred.height })).labels;
        } else {
          gt = await readLabels(opts.gt);
        }
        assertSameLabelSize(opts.pred, pred, opts.gt, gt);
        const result = evaluate(gt, pred);
        process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : formatTable(result));
      }),
    );
}
