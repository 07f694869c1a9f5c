// watchConnected (@hermod/nats) follows nats.js's public status events instead of its private
// protocol handler: false while nats-server is away, true again once the client reconnects, false
// once the connection is closed. /readyz and the accept path's "bus down" decision read it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connectNats, watchConnected } from '@hermod/nats';
import { eventually, startTestNats, type TestNats } from '@hermod/test/harness';

let nats: TestNats;

before(async () => {
  nats = await startTestNats();
});

after(async () => {
  await nats?.stop();
});

test('a connection is reported down while nats-server is away and up again after it reconnects', async () => {
  const nc = await connectNats({ servers: nats.url, name: 'watch-connected' });
  const connected = watchConnected(nc);
  assert.equal(connected(), true);
  await nats.server.stop();
  await eventually('the loss of the server to be seen', async () => (connected() ? undefined : true));
  await nats.server.start();
  await eventually('the reconnect to be seen', async () => (connected() ? true : undefined), 30_000);
  await nc.close();
  assert.equal(connected(), false);
});
