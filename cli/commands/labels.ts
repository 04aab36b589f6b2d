import { type Command, InvalidArgumentError } from 'commander';
import { annotationXmlToLabels } from '../../src/data/annotations.ts';
import { UserError } from '../../src/errors.ts';
import { readImageSize, writeLabelsPng } from '../../src/imaging/io.ts';
import { action } from '../run-action.ts';

interface LabelsOptions {
  out: string;
  size?: { width: number; height: number };
  image?: string;
}

/** MoNuSeg tiles are 1000x1000; used when neither --size nor --image is given. */
const DEFAULT_SIZE = { width: 1000, height: 1000 };

/** Parses --size WIDTHxHEIGHT (commander's argument parser for it). */
export function parseSize(text: string): { width: number; height: number } {
  const m = /^(\d+)[xX](\d+)$/.exec(text.trim());
  const width = m ? Number(m[1]) : 0;
  const height = m ? Number(m[2]) : 0;
  if (!m || width < 1 || height < 1 || width > 65535 || height > 65535) {
    throw new InvalidArgumentError('Expected WIDTHxHEIGHT with each 1..65535, e.g. 1000x1000.');
  }
  return { width, height };
}

export function register(program: Command): void {
  program
    .command('labels')
    .description(
      'Convert a MoNuSeg/Aperio XML annotation into a 16-bit instance label PNG, exactly as the ' +
        'organisers did (MATLAB poly2mask, XML order, first region wins)',
    )
    .argument('<annotation.xml>', 'Aperio ImageScope XML with Region/Vertex polygons')
    .requiredOption('--out <labels.png>', 'output 16-bit grayscale PNG (0 = background, 1..N = nuclei)')
    .option('--size <WxH>', 'image size in pixels (default 1000x1000, the MoNuSeg tile size)', parseSize)
    .option('--image <tif>', 'take the size from this image instead of --size')
    .action(
      action(async (xml: string, opts: LabelsOptions) => {
        if (opts.size !== undefined && opts.image !== undefined) {
          throw new UserError('give either --size or --image, not both');
        }
        const size = opts.image !== undefined ? await readImageSize(opts.image) : (opts.size ?? DEFAULT_SIZE);
        const r = await annotationXmlToLabels(xml, size);
        await writeLabelsPng(opts.out, r.labels);
        const notes = [`${r.nRegions} regions`, `${r.skipped} skipped (< 3 vertices)`];
        if (r.empty > 0) notes.push(`${r.empty} with no pixel left (outside or fully overlapped)`);
        process.stdout.write(
          `${opts.out}: ${r.nInstances} nuclei, ${size.width}x${size.height} (${notes.join(', ')})\n`,
        );
      }),
    );
}
