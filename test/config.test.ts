import { describe, expect, it } from 'vitest';
import { loadConfig, requireDataDir } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';

describe('loadConfig', () => {
  it('defaults to embedded mode with no environment', () => {
    const c = loadConfig({});
    expect(c.databaseUrl).toBeUndefined();
    expect(c.temporalAddress).toBeUndefined();
    expect(c.mlflowTrackingUri).toBeUndefined();
    expect(c.home.endsWith('.nucleiflow')).toBe(true);
    expect(c.allowJsBackend).toBe(false);
  });

  it('takes the real services from the environment', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/nucleiflow',
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      MLFLOW_TRACKING_URI: 'http://127.0.0.1:5050/',
    });
    expect(c.databaseUrl).toBe('postgresql://postgres@127.0.0.1:5432/nucleiflow');
    expect(c.temporalAddress).toBe('127.0.0.1:7233');
    expect(c.mlflowTrackingUri).toBe('http://127.0.0.1:5050');
  });

  it.each([
    ['DATABASE_URL', 'mysql://x@y/z'],
    ['TEMPORAL_ADDRESS', 'localhost'],
    ['MLFLOW_TRACKING_URI', 'not a url'],
    ['NUCLEIFLOW_ALLOW_JS_BACKEND', 'maybe'],
  ])('rejects a bad %s with a one-line error naming it', (name, value) => {
    let err: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg.startsWith(name)).toBe(true);
    expect(msg).toContain(value);
    expect(msg).not.toContain('\n');
  });

  it('names NUCLEIFLOW_DATA when the data folder is missing', () => {
    expect(() => requireDataDir(loadConfig({ NUCLEIFLOW_DATA: '/nonexistent/monuseg' }))).toThrow(
      /^NUCLEIFLOW_DATA: no MoNuSeg data/,
    );
  });
});
