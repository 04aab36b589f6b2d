import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig, requireDataDir } from '../../src/config.ts';
import { kumarSplit } from '../../src/data/manifest.ts';
import { HISTOGRAM_DISTANCES, type HistogramDistance } from '../../src/stain/reference.ts';
import { selectReferenceImage } from '../../src/stain/select-reference.ts';
import { action } from '../run-action.ts';

interface ReferenceOptions {
  split: string;
  metric: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('reference')
    .description(
      'Choose the stain-normalisation reference image as Mahbod et al. 2019: the training image whose ' +
        'ground-truth nuclei and background grayscale histograms differ most; prints the full ranking',
    )
    .addOption(
      new Option('--split <name>', 'candidate images; only training images may be used: kumar-train')
        .argParser((v) => {
          if (v !== 'kumar-train')
            throw new InvalidArgumentError(
              'Only kumar-train: the reference is chosen with ground truth, so only training images qualify.',
            );
          return v;
        })
        .default('kumar-train'),
    )
    .addOption(
      new Option('--metric <name>', 'histogram distance')
        .choices(HISTOGRAM_DISTANCES)
        .default('jensen-shannon'),
    )
    .option('--json', 'print one JSON object instead of a table')
    .action(
      action(async (opts: ReferenceOptions) => {
        const dataDir = requireDataDir(loadConfig());
        const { train } = await kumarSplit(dataDir);
        const bar =
          process.stderr.isTTY && !opts.json
            ? new cliProgress.SingleBar(
                {
                  format: 'histograms [{bar}] {value}/{total} {slide}',
                  stream: process.stderr,
                  hideCursor: true,
                },
                cliProgress.Presets.shades_classic,
              )
            : undefined;
        bar?.start(train.length, 0, { slide: '' });
        const result = await selectReferenceImage(train, {
          metric: opts.metric as HistogramDistance,
          onProgress: (done, _total, id) => bar?.update(done, { slide: id }),
        }).finally(() => bar?.stop());
        const byId = new Map(train.map((s) => [s.id, s]));
        if (opts.json) {
          const ranking = result.ranking.map((r, i) => ({
            rank: i + 1,
            ...r,
            organ: byId.get(r.id)?.organ,
            imagePath: byId.get(r.id)?.imagePath,
          }));
          process.stdout.write(
            `${JSON.stringify({ split: opts.split, metric: result.metric, chosen: ranking[0], ranking }, null, 2)}\n`,
          );
          return;
        }
        const lines = [
          `rank  ${'slide'.padEnd(25)} ${'organ'.padEnd(9)} ${result.metric.padStart(14)}  nuclei px`,
        ];
        result.ranking.forEach((r, i) => {
          lines.push(
            `${String(i + 1).padStart(4)}  ${r.id.padEnd(25)} ${(byId.get(r.id)?.organ ?? '').padEnd(9)} ${r.distance.toFixed(6).padStart(14)}  ${String(r.nucleiPixels).padStart(9)}`,
          );
        });
        lines.push('', `reference: ${result.chosen.id} (${byId.get(result.chosen.id)?.imagePath ?? ''})`);
        process.stdout.write(`${lines.join('\n')}\n`);
      }),
    );
}
