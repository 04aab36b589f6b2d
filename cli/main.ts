import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { reportError } from './run-action.ts';

/**
 * Each file in commands/ exports `register(program)`; discovering them keeps this entry point
 * free of edits when a command is added. A file is named after its command, so when argv names
 * one only that file is imported: the platform commands pull in the Temporal client (about 1 s),
 * which `labels` or `evaluate` should not pay for. Help and unknown commands load them all.
 */
async function main(argv: string[]): Promise<void> {
  const program = new Command('nucleiflow')
    .description(
      'Nuclei segmentation in H&E images: the two-stage U-Net of Mahbod et al. (2019), reproduced and extended.',
    )
    .showHelpAfterError()
    .configureOutput({ outputError: (s, write) => write(s) });
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .sort()) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as { register?: (p: Command) => void };
    mod.register?.(program);
  }
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  process.exitCode = reportError(err);
});
