/**
 * TensorFlow's native library logs through absl before its own log filter is read, so
 * TF_CPP_MIN_LOG_LEVEL cannot hide its start-up notices (the absl preamble and oneDNN's "custom
 * operations are on", printed when training turns oneDNN on). A compute child's stderr is read
 * here line by line: those informational lines go to a log file; everything else, TensorFlow's
 * warnings and errors included, is passed on unchanged.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** absl's line prefix: severity, MMDD, hh:mm:ss.us (00:00:<epoch s> before absl is set up), thread, file:line. */
const ABSL_INFO = /^I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]]+:\d+\] /;
const ABSL_PREAMBLE =
  'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR';

/** True for a line that is TensorFlow's native informational output, not a warning or error. */
export function isNativeInfo(line: string): boolean {
  return line === ABSL_PREAMBLE || ABSL_INFO.test(line);
}

/**
 * Routes `from` line by line: native informational lines are appended to `file` (opened on the first
 * such line), the rest written to `to`. Returns when `from` ends and the file is flushed.
 */
export async function routeNativeLog(from: Readable, file: string, to: Writable): Promise<void> {
  let log: WriteStream | undefined;
  for await (const line of createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (isNativeInfo(line)) {
      if (!log) {
        mkdirSync(dirname(file), { recursive: true });
        log = createWriteStream(file, { flags: 'a' });
      }
      log.write(`${line}\n`);
    } else {
      to.write(`${line}\n`);
    }
  }
  if (log) await new Promise<void>((r) => log.end(r));
}
