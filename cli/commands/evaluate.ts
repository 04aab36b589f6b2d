import type { Command } from 'commander';
import { annotationXmlToLabels } from '../../src/data/annotations.ts';
import { InputError, UserError } from '../../src/errors.ts';
import { readLabels } from '../../src/imaging/io.ts';
import { relabelSequential } from '../../src/imaging/relabel.ts';
import type { LabelImage } from '../../src/imaging/types.ts';
import { EVAL_KEYS, type EvalResult, evaluate } from '../../src/metrics/index.ts';
import { action } from '../run-action.ts';

interface EvaluateOptions {
  pred: string;
  gt: string;
  json?: boolean;
  relabel?: boolean;
}

/** Reads a label PNG/TIFF; ids must be 1..N unless --relabel renumbers them. */
async function readMap(path: string, flag: string, relabel: boolean): Promise<LabelImage> {
  if (relabel) return relabelSequential(await readLabels(path));
  try {
    return await readLabels(path, { requireContiguous: true });
  } catch (err) {
    if (err instanceof InputError && /not contiguous/.test(err.message)) {
      const problem = err.message.slice(err.file.length + 2);
      throw new InputError(path, `${problem} (${flag}); rerun with --relabel to renumber the ids 1..N`);
    }
    throw err;
  }
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
    .option('--relabel', 'accept maps whose ids are not exactly 1..N by renumbering them first')
    .action(
      action(async (opts: EvaluateOptions) => {
        const relabel = Boolean(opts.relabel);
        const pred = await readMap(opts.pred, '--pred', relabel);
        let gt: LabelImage;
        if (/\.xml$/i.test(opts.gt)) {
          // Our own rasterisation may leave ids with no pixel; metrics count the ids present.
          gt = (await annotationXmlToLabels(opts.gt, { width: pred.width, height: pred.height })).labels;
        } else {
          gt = await readMap(opts.gt, '--gt', relabel);
        }
        if (gt.width !== pred.width || gt.height !== pred.height) {
          throw new UserError(
            `size mismatch: --pred ${opts.pred} is ${pred.width}x${pred.height} but --gt ${opts.gt} is ${gt.width}x${gt.height}`,
          );
        }
        const result = evaluate(gt, pred);
        process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : formatTable(result));
      }),
    );
}
