// Entry of a compute child process (platform/compute-process.ts): TypeScript through tsx's loader,
// as bin/nucleiflow.mjs runs the CLI.
import { register } from 'tsx/esm/api';

process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
register();
await import('./compute-child.ts');
