import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { reportError } from './run-action.ts';

type CommandModule = { register?: (p: Command) => void };

/**
 * Each file in commands/ exports `register(program)`; discovering them keeps this entry point
 * free of edits when a command is added. A file is named after its command, so when argv names
 * one only that file is imported: the platform commands pull in the Temporal client and the model
 * commands native TensorFlow, which `labels` or `evaluate` should not pay for. Help, no command
 * and unknown commands load them all, so commander can list them or suggest one.
 */
async function main(argv: string[]): Promise<void> {
  const program = new Command('nucleiflow')
    .description(
      'Nuclei segmentation in H&E images: the two-stage U-Net of Mahbod et al. (2019), reproduced and extended.',
    )
    // Throw instead of exiting, so reportError gives usage errors exit 2; subcommands inherit it.
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s) });
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
  const named = argv[2];
  const own = named && /^[a-z][a-z0-9-]*$/.test(named) ? join(dir, `${named}.ts`) : undefined;
  const files =
    own && existsSync(own)
      ? [own]
      : readdirSync(dir)
          .filter((f) => f.endsWith('.ts'))
          .sort()
          .map((f) => join(dir, f));
  for (const file of files) {
    const mod = (await import(pathToFileURL(file).href)) as CommandModule;
    mod.register?.(program);
  }
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  process.exitCode = reportError(err);
});
