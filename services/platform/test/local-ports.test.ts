import assert from 'node:assert/strict';
import { test } from 'node:test';
import { localPortOffset, MAX_PORT_OFFSET, PORT_OFFSET_STEP, PortOffsetError } from '@hermod/local-infra';
import { infraPorts, localServices } from '../src/services.js';

const portsOf = (offset: number) => [
  ...Object.values(infraPorts).map((p) => p + offset),
  ...localServices({ certFile: 'c', keyFile: 'k' }, offset).flatMap((s) => s.ports),
];

test('no port of one copy of the local platform is a port of another, for every allowed offset', () => {
  const owner = new Map<number, number>();
  for (let offset = 0; offset <= MAX_PORT_OFFSET; offset += PORT_OFFSET_STEP) {
    const ports = portsOf(offset);
    assert.equal(new Set(ports).size, ports.length, `offset ${offset} uses a port twice`);
    for (const port of ports) {
      assert.ok(port < 65_536, `port ${port} of offset ${offset} does not exist`);
      const other = owner.get(port);
      assert.equal(other, undefined, `port ${port} belongs to offsets ${other} and ${offset}`);
      owner.set(port, offset);
    }
  }
});

test('every listener a service announces is among the ports checked before start', () => {
  for (const svc of localServices({ certFile: 'c', keyFile: 'k' }, 3000)) {
    assert.ok(svc.ports.includes(svc.opsPort), svc.name);
    for (const listener of svc.listeners) {
      const port = Number(/\b(\d{4,5})\b/.exec(listener)?.[1]);
      assert.ok(svc.ports.includes(port), `${svc.name}: ${listener}`);
    }
  }
});

test('offsets that could make copies collide are refused', () => {
  assert.equal(localPortOffset({}), 0);
  assert.equal(localPortOffset({ HERMOD_PORT_OFFSET: '' }), 0);
  assert.equal(localPortOffset({ HERMOD_PORT_OFFSET: '2000' }), 2000);
  for (const bad of ['1500', '4000x', '-1000', '12000'])
    assert.throws(() => localPortOffset({ HERMOD_PORT_OFFSET: bad }), PortOffsetError, bad);
});
