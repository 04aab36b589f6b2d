import type { Command } from 'commander';
import { UserError } from '../../src/errors.ts';
import { readRgb, writeRgbPng } from '../../src/imaging/io.ts';
import { fitMacenko, LowTissueError, normalizeMacenko } from '../../src/stain/macenko.ts';
import { decimal, nonNegativeNumber, positiveNumber } from '../options.ts';
import { action } from '../run-action.ts';

interface NormalizeCliOptions {
  reference: string;
  out: string;
  io: number;
  alpha: number;
  beta: number;
}

export function register(program: Command): void {
  program
    .command('normalize')
    .description(
      'Macenko stain normalisation (Macenko et al. 2009): re-render an H&E image with the stain ' +
        'vectors and concentration range of a reference image; writes a PNG atomically',
    )
    .argument('<image>', 'H&E image to normalise (TIFF, PNG or JPEG)')
    .requiredOption('--reference <image>', 'reference H&E image (see `nucleiflow reference`)')
    .requiredOption('--out <png>', 'output PNG')
    .option('--io <n>', 'transmitted light intensity (white level)', positiveNumber, 240)
    .option(
      '--alpha <percent>',
      'angle percentile for the extreme stain vectors, in [0, 50)',
      decimal({ min: 0, below: 50 }),
      1,
    )
    .option('--beta <od>', 'optical-density threshold for tissue pixels', nonNegativeNumber, 0.15)
    .action(
      action(async (image: string, opts: NormalizeCliOptions) => {
        const params = { io: opts.io, alpha: opts.alpha, beta: opts.beta };
        const [img, ref] = await Promise.all([readRgb(image), readRgb(opts.reference)]);
        let target: ReturnType<typeof fitMacenko>;
        try {
          target = fitMacenko(ref, params);
        } catch (err) {
          if (err instanceof LowTissueError)
            throw new UserError(`${opts.reference}: unusable as reference, ${err.message}`);
          throw err;
        }
        let warned = false;
        const out = normalizeMacenko(img, target, {
          ...params,
          onWarning: (m) => {
            warned = true;
            process.stderr.write(`nucleiflow: warning: ${image}: ${m}\n`);
          },
        });
        await writeRgbPng(opts.out, out);
        process.stdout.write(
          `${opts.out}: ${img.width}x${img.height}, ${warned ? 'copied unchanged (too little tissue)' : 'normalised'} to ${opts.reference}\n`,
        );
      }),
    );
}
