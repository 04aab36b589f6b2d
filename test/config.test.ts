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
    expect(c.temporalLogLevel).toBe('WARN');
    expect(c.temporalLogFile).toBe(`${c.home}/logs/temporal-sdk.log`);
    expect(c.temporalLogStderr).toBe(false);
    expect(c.queuePrefix).toBe('');
    expect(c.temporalBin).toBeUndefined();
    expect(c.dashboardToken).toBeUndefined();
    expect(c.temporalUiUrl).toBeUndefined();
    expect(c.openSlideLib).toBeUndefined();
    expect(c.testDatabaseUrl).toBeUndefined();
    expect(c.dashboardReal).toBe(false);
    expect(c.chromiumPath).toBe('/usr/bin/chromium');
  });

  it('takes the platform, dashboard and harness settings from the environment', () => {
    const c = loadConfig({
      NUCLEIFLOW_TEMPORAL_LOG: 'INFO',
      NUCLEIFLOW_TEMPORAL_LOG_STDERR: '1',
      NUCLEIFLOW_QUEUE_PREFIX: 'test-abc/',
      NUCLEIFLOW_TEMPORAL_BIN: process.execPath,
      NUCLEIFLOW_DASHBOARD_TOKEN: '0123456789abcdef',
      TEMPORAL_UI_URL: 'http://127.0.0.1:8233/',
      NUCLEIFLOW_TEST_DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/nucleiflow_test',
      NUCLEIFLOW_DASHBOARD_REAL: '1',
      CHROMIUM_PATH: '/opt/chromium/chrome',
      NUCLEIFLOW_OPENSLIDE_LIB: process.execPath,
    });
    expect(c.temporalLogLevel).toBe('INFO');
    expect(c.temporalLogStderr).toBe(true);
    expect(c.queuePrefix).toBe('test-abc/');
    expect(c.temporalBin).toBe(process.execPath);
    expect(c.dashboardToken).toBe('0123456789abcdef');
    expect(c.temporalUiUrl).toBe('http://127.0.0.1:8233');
    expect(c.testDatabaseUrl).toBe('postgresql://postgres@127.0.0.1:5432/nucleiflow_test');
    expect(c.dashboardReal).toBe(true);
    expect(c.chromiumPath).toBe('/opt/chromium/chrome');
    expect(c.openSlideLib).toBe(process.execPath);
  });

  it.each(['NUCLEIFLOW_TEMPORAL_BIN', 'NUCLEIFLOW_DASHBOARD_TOKEN', 'TEMPORAL_UI_URL'])(
    'treats an empty %s as unset',
    (name) => {
      const c = loadConfig({ [name]: '' });
      expect([c.temporalBin, c.dashboardToken, c.temporalUiUrl]).toEqual([undefined, undefined, undefined]);
    },
  );

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
    ['MLFLOW_TRACKING_URI', 'http://127.0.0.1:5060'],
    ['NUCLEIFLOW_ALLOW_JS_BACKEND', 'maybe'],
    ['NUCLEIFLOW_TEMPORAL_LOG', 'LOUD'],
    ['NUCLEIFLOW_TEMPORAL_LOG_STDERR', 'yes'],
    ['NUCLEIFLOW_QUEUE_PREFIX', 'my queue/'],
    ['NUCLEIFLOW_TEMPORAL_BIN', '/nonexistent/bin/temporal'],
    ['NUCLEIFLOW_OPENSLIDE_LIB', '/nonexistent/libopenslide.so.1'],
    ['NUCLEIFLOW_OPENSLIDE_LIB', ''],
    ['TEMPORAL_UI_URL', 'ftp://127.0.0.1:8233'],
    ['NUCLEIFLOW_TEST_DATABASE_URL', 'http://127.0.0.1:5432/x'],
    ['NUCLEIFLOW_DASHBOARD_REAL', 'yes'],
    ['CHROMIUM_PATH', ''],
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

  it('rejects a short NUCLEIFLOW_DASHBOARD_TOKEN without echoing the secret', () => {
    expect(() => loadConfig({ NUCLEIFLOW_DASHBOARD_TOKEN: 'hunter2' })).toThrow(ConfigError);
    expect(() => loadConfig({ NUCLEIFLOW_DASHBOARD_TOKEN: 'hunter2' })).toThrow(
      /^NUCLEIFLOW_DASHBOARD_TOKEN must be at least 12 characters$/,
    );
  });

  it('names NUCLEIFLOW_DATA when the data folder is missing', () => {
    expect(() => requireDataDir(loadConfig({ NUCLEIFLOW_DATA: '/nonexistent/monuseg' }))).toThrow(
      /^NUCLEIFLOW_DATA: no MoNuSeg data/,
    );
  });
});
