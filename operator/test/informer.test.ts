// The informer against a local HTTP server that plays the API server's part badly on purpose: a
// watch that goes silent without closing, and a watch that answers 410 Gone.
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { silentLogger } from '@hermod/logging';
import { Informer } from '../src/kube/informer.js';
import { KubeClient } from '../src/kube/kube-client.js';

const item = (name: string, rv: string) => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });

/**
 * A condition re-checked whenever the informer reports something (wake), never on a timer; the
 * only deadline is the bound after which the wait fails, naming what it waited for.
 */
function reported(what: string, timeoutMs = 5_000) {
  let wake = () => {};
  return {
    wake: () => wake(),
    async until(holds: () => boolean): Promise<void> {
      // Only a report resolves a wait; the deadline (an abort signal) rejects, it never stands in for
      // the condition.
      const deadline = AbortSignal.timeout(timeoutMs);
      const onDeadline = () => wake();
      deadline.addEventListener('abort', onDeadline);
      try {
        while (!holds()) {
          if (deadline.aborted) throw new Error(`timed out waiting for ${what}`);
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      } finally {
        deadline.removeEventListener('abort', onDeadline);
      }
    },
  };
}

async function withServer(
  handle: (kind: 'list' | 'watch', n: number, res: ServerResponse, url: URL) => void,
) {
  const counts = { list: 0, watch: 0 };
  const open: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const kind = url.searchParams.get('watch') ? 'watch' : 'list';
    counts[kind] += 1;
    open.push(res);
    handle(kind, counts[kind], res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new KubeClient({
    server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tls: {},
    headers: async () => ({}),
  });
  return {
    client,
    counts,
    close: async () => {
      for (const res of open) res.destroy();
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('a watch that goes silent without closing is restarted, and nothing is missed', async () => {
  const env = await withServer((kind, n, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (kind === 'list')
      return void res.end(JSON.stringify({ metadata: { resourceVersion: '5' }, items: [item('a', '5')] }));
    // The first watch hangs for ever; the second delivers an event and stays open.
    if (n >= 2) res.write(`${JSON.stringify({ type: 'ADDED', object: item('b', '6') })}\n`);
  });
  const restarts: string[] = [];
  const informer = new Informer({
    client: env.client,
    path: '/apis/g/v1/things',
    kind: 'Thing',
    apiVersion: 'g/v1',
    logger: silentLogger(),
    idleMs: 300,
    onWatchRestart: (reason) => restarts.push(reason),
  });
  const arrival = reported('the event after the restart');
  informer.onChange(arrival.wake);
  informer.start();
  try {
    await informer.waitForSync();
    await arrival.until(() => informer.get('ns/b') !== undefined);
    assert.ok(informer.get('ns/b'), 'the event after the restart arrived');
    assert.ok(restarts.includes('error'), `restarted after the stall: ${restarts}`);
    assert.equal(env.counts.list, 1, 'a stall resumes the watch; it needs no relist');
  } finally {
    await informer.stop();
    await env.close();
  }
});

test('410 Gone relists, and objects deleted meanwhile are reported as deleted', async () => {
  const env = await withServer((kind, n, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (kind === 'list') {
      const items = n === 1 ? [item('a', '5'), item('b', '5')] : [item('a', '9')];
      return void res.end(JSON.stringify({ metadata: { resourceVersion: n === 1 ? '5' : '9' }, items }));
    }
    if (n === 1)
      return void res.end(
        `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } })}\n`,
      );
  });
  const relists: string[] = [];
  const changes: Array<[string, boolean]> = [];
  const relisted = reported('the relist after 410 and its changes');
  const informer = new Informer({
    client: env.client,
    path: '/apis/g/v1/things',
    kind: 'Thing',
    apiVersion: 'g/v1',
    logger: silentLogger(),
    onRelist: (reason) => {
      relists.push(reason);
      relisted.wake();
    },
  });
  informer.onChange((key, current) => {
    changes.push([key, current !== undefined]);
    relisted.wake();
  });
  informer.start();
  try {
    // The relist after 410 delivers its two changes (ns/a again, ns/b gone): wait for them.
    await relisted.until(() => relists.length >= 2 && changes.length >= 4);
    assert.deepEqual(relists, ['initial', 'expired']);
    assert.deepEqual(changes, [
      ['ns/a', true],
      ['ns/b', true],
      ['ns/a', true],
      ['ns/b', false],
    ]);
    assert.equal(informer.get('ns/b'), undefined);
  } finally {
    await informer.stop();
    await env.close();
  }
});
