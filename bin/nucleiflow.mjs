#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so there is no build step between an edit and a run.
import { register } from 'tsx/esm/api';

process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
register();
await import('../cli/main.ts');
