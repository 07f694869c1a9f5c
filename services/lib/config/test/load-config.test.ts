import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { ConfigError, env, loadConfig } from '../src/load-config.js';

const schema = z.object({
  PORT: env.port(25),
  ENABLED: env.bool(false),
  DATABASE_URL: z.string().min(1, 'the PostgreSQL connection URL is required'),
  API_TOKEN: z.string().min(10),
  NETWORKS: env.list(['a']),
});

test('defaults apply and strings are coerced', () => {
  const c = loadConfig('t', schema, {
    DATABASE_URL: 'postgres://x',
    API_TOKEN: '0123456789',
    ENABLED: 'yes',
    NETWORKS: ' x , y,',
  });
  assert.deepEqual(c, {
    PORT: 25,
    ENABLED: true,
    DATABASE_URL: 'postgres://x',
    API_TOKEN: '0123456789',
    NETWORKS: ['x', 'y'],
  });
});

test('every bad variable is named at once, secrets are not echoed', () => {
  try {
    loadConfig('svc', schema, { PORT: '70000', ENABLED: 'maybe', API_TOKEN: 'short', DATABASE_URL: '' });
    assert.fail('should have thrown');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const names = error.issues.map((i) => i.variable).sort();
    assert.deepEqual(names, ['API_TOKEN', 'DATABASE_URL', 'ENABLED', 'PORT']);
    assert.match(error.message, /PORT: .*\(got "70000"\)/);
    assert.match(error.message, /DATABASE_URL: .*\(got unset\)/);
    assert.match(error.message, /API_TOKEN: .*\(got "\*\*\*"\)/);
    assert.doesNotMatch(error.message, /short/);
  }
});
