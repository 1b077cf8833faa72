#!/usr/bin/env node
'use strict';
// What ticketsync-trigger.js sends for each Detection fixture, checked field by field
// against the stand-in runtime (standin.js). Plain node:assert, TAP-style output, exit
// status 1 on any failure. Run by tests/integration/test_trigger.c; also by hand:
//   node deploy/extrahop/test/test-trigger.js

const assert = require('assert');
const fs = require('fs');
const standin = require('./standin');
const { fixtures, T0 } = require('./fixtures');

const { runTrigger, compile, triggerSource, plainCopy, Device, IPAddress } = standin;

const tests = [];
function test(name, fn) { tests.push({ name, fn }); }

function fixture(name) {
  const f = fixtures().find((x) => x.name === name);
  if (!f) throw new Error(`no fixture ${name}`);
  return f;
}

// The one update a fixture produces: checks the call's shape, returns its $set.
function onlyUpdate(rec, id, db) {
  assert.strictEqual(rec.mongo.length, 1, 'exactly one MongoDB call');
  const c = rec.mongo[0];
  assert.strictEqual(c.method, 'update');
  assert.strictEqual(c.target, null, 'default MongoDB target');
  assert.strictEqual(c.args.length, 4);
  assert.strictEqual(c.args[0], `${db || 'extrahop'}.detections`);
  assert.deepStrictEqual(c.args[1], { _id: id });
  assert.deepStrictEqual(Object.keys(c.args[2]), ['$set'], 'update holds only $set');
  assert.deepStrictEqual(c.args[3], { upsert: true });
  return c.args[2].$set;
}

function set(name, opts) {
  const f = fixture(name);
  return onlyUpdate(runTrigger(f.detection, opts), f.detection.id, opts && opts.settings && opts.settings.DB);
}

test('seed detection: every camelCase property lands under its REST name', () => {
  assert.deepStrictEqual(set('seed-first-event'), {
    title: 'SMB/CIFS Brute Force',
    description: 'Something happened (1).',
    type: 'smb_brute_force',
    categories: ['sec.attack', 'sec.action'],
    risk_score: 85,
    start_time: T0,
    end_time: T0 + 60000,
    update_time: T0 + 60000,
    ticket_id: 'TK-16982',
    status: 'new',
    assignee: 'sally',
    resolution: null,
    participants: [
      { role: 'offender', id: 900001, object_type: 'ipaddr', object_value: '203.0.113.7',
        hostnames: ['scanner.example.net'], external: true },
      { role: 'victim', id: 900002, object_type: 'device', object_id: 1234,
        discovery_id: 'f00dfeed00000001', ipaddrs: ['192.0.2.10'], external: false },
    ],
    is_user_created: false,
    mitre_tactics: [
      { id: 'TA0006', name: 'Credential Access', url: 'https://attack.mitre.org/tactics/TA0006/' },
    ],
    mitre_techniques: [
      { id: 'T1110', name: 'Brute Force', url: 'https://attack.mitre.org/techniques/T1110/' },
      { id: 'T1110.001', name: 'Password Guessing', url: 'https://attack.mitre.org/techniques/T1110/001/' },
    ],
    properties: {
      attempts: 312, protocol: 'SMB',
      server: { object_type: 'ipaddr', object_value: '192.0.2.10', hostnames: ['fs01.example.com'], external: false },
    },
    appliance_id: 1,
  });
});

test('null risk score stays null; a null end time stays null', () => {
  const s = set('null-risk-score');
  assert.strictEqual(s.risk_score, null);
  assert.ok('risk_score' in s);
  assert.strictEqual(s.end_time, null);
  assert.strictEqual(s.status, null);
  assert.strictEqual(s.ticket_id, null);
});

test('custom detection type is kept as is; absent MITRE and properties', () => {
  const s = set('custom-detection-type');
  assert.strictEqual(s.type, 'custom.exfil_over_dns');
  assert.strictEqual(s.is_user_created, true, 'a custom detection is user-created');
  assert.deepStrictEqual(s.categories, []);
  assert.deepStrictEqual(s.mitre_tactics, []);
  assert.deepStrictEqual(s.mitre_techniques, []);
  assert.ok(!('properties' in s), 'no properties invented');
});

test('no participants gives an empty list; absent participants too', () => {
  assert.deepStrictEqual(set('no-participants').participants, []);
  const s = set('participants-absent');
  assert.deepStrictEqual(s.participants, []);
  assert.ok(!('appliance_id' in s));
});

test('many participants: all 600 flattened, in order', () => {
  const f = fixture('many-participants');
  const s = set('many-participants');
  assert.strictEqual(s.participants.length, 600);
  s.participants.forEach((p, i) => {
    const src = f.detection.participants[i];
    assert.strictEqual(p.id, src.id);
    assert.strictEqual(p.role, src.role);
    if (i % 3 === 0) {
      assert.strictEqual(p.object_type, 'device');
      assert.strictEqual(p.object_id, 10000 + i);
    } else if (i % 3 === 1) {
      assert.strictEqual(p.object_type, 'ipaddr');
      assert.strictEqual(p.object_value, String(src.object));
    } else {
      assert.deepStrictEqual(p, { role: 'victim', id: src.id, object_type: 'application', object_value: `app-${i}` });
    }
  });
});

test('live objects are flattened, never copied', () => {
  const f = fixture('live-objects');
  // The premise: copied as they are, live objects lose their data (state sits behind
  // getters) and point back at each other.
  assert.strictEqual(JSON.stringify(f.detection.participants[0].object), '{}');
  assert.strictEqual(f.detection.participants[0].object.ipaddrs[0].device, f.detection.participants[0].object);
  const s = set('live-objects');
  assert.deepStrictEqual(s.participants, [
    { role: 'offender', id: 900010, object_type: 'device', object_id: 4321, discovery_id: 'f00dfeed00000002',
      ipaddrs: ['192.0.2.55', '2001:db8::55'], external: false },
    { role: 'victim', id: 900011, object_type: 'ipaddr', object_value: '203.0.113.7',
      hostnames: ['scanner.example.net'], external: true },
    { role: 'victim', id: 900012, object_type: 'application', object_value: 'payroll' },
    { role: 'victim', id: 900013, object_type: 'ipaddr', object_value: '198.51.100.9' },
  ]);
  assert.deepStrictEqual(s.categories, ['sec.lateral'], 'array-like categories copied');
  assert.deepStrictEqual(s.properties.nested, { port: 445, ok: true });
  assert.strictEqual(s.properties.device.object_type, 'device');
  assert.deepStrictEqual(s.properties.addresses.map((a) => a.object_value), ['192.0.2.55', '2001:db8::55']);
});

test('closed with resolution: ticket fields as ExtraHop shows them', () => {
  const s = set('closed-action-taken');
  assert.strictEqual(s.status, 'closed');
  assert.strictEqual(s.resolution, 'action_taken');
  assert.strictEqual(s.ticket_id, 'TK-3452');
  assert.strictEqual(s.assignee, 'alex');
});

test('ids beyond 32 bits and fractional times', () => {
  const s = set('large-id');
  assert.strictEqual(s.start_time, T0, 'times are whole milliseconds');
  assert.strictEqual(s.update_time, T0 + 1);
});

test('a later event of the same detection updates the same document', () => {
  const s = set('seed-later-event');
  assert.strictEqual(s.status, 'in_progress');
  assert.strictEqual(s.risk_score, 90);
  assert.strictEqual(s.participants.length, 3);
});

test('no usable id: nothing written, a log line says why', () => {
  const rec = runTrigger(fixture('no-usable-id').detection);
  assert.strictEqual(rec.mongo.length, 0);
  assert.strictEqual(rec.http.length, 0);
  assert.match(rec.log.join('\n'), /without a usable id/);
  for (const bad of [0, -3, 1.5, '17', NaN]) {
    const r = runTrigger(Object.assign(fixture('seed-first-event').detection, { id: bad }));
    assert.strictEqual(r.mongo.length, 0, `id ${String(bad)}`);
  }
});

test('another event name: the trigger does nothing', () => {
  const rec = runTrigger(fixture('other-event').detection, { event: 'HTTP_REQUEST' });
  assert.strictEqual(rec.mongo.length + rec.http.length, 0);
});

test('required fields that are absent stay absent instead of being invented', () => {
  const d = fixture('seed-first-event').detection;
  delete d.title;
  d.updateTime = undefined;
  const s = onlyUpdate(runTrigger(d), 1);
  assert.ok(!('title' in s));
  assert.ok(!('update_time' in s));
  assert.strictEqual(s.type, 'smb_brute_force');
});

test('DB setting names the database; MONGODB_TARGET picks a named target', () => {
  set('seed-first-event', { settings: { DB: 'secops' } });
  const rec = runTrigger(fixture('seed-first-event').detection, { settings: { MONGODB_TARGET: 'ticketsync-mongo' } });
  assert.strictEqual(rec.mongo.length, 1);
  assert.strictEqual(rec.mongo[0].target, 'ticketsync-mongo');
  assert.strictEqual(rec.mongo[0].args[0], 'extrahop.detections');
});

test('the database name is written in one place only', () => {
  const src = fs.readFileSync(standin.TRIGGER_PATH, 'utf8');
  assert.strictEqual((src.match(/'extrahop'/g) || []).length, 1);
  assert.strictEqual((src.match(/\.detections'/g) || []).length, 1);
});

test('only the MongoDB write: tickets are ticketsyncd\'s ([create]), never fire-and-forget', () => {
  for (const f of fixtures()) {
    const rec = runTrigger(f.detection, { event: f.event });
    assert.strictEqual(rec.http.length, 0, f.name);
  }
  const src = fs.readFileSync(standin.TRIGGER_PATH, 'utf8');
  assert.ok(!/Remote\.HTTP/.test(src), 'the trigger has no HTTP ODS call');
});

test('plain ES5 (any trigger engine runs it)', () => {
  const src = fs.readFileSync(standin.TRIGGER_PATH, 'utf8');
  // Comments and string literals may say anything; code may not use ES2015+ syntax.
  const code = src
    .replace(/\/\/[^\n]*/g, '')
    .replace(/'(?:[^'\\\n]|\\.)*'/g, "''");
  for (const [what, re] of [['arrow function', /=>/], ['let', /\blet\b/], ['const', /\bconst\b/],
    ['template literal', /`/], ['class', /\bclass\b/], ['spread/rest', /\.\.\./],
    ['for..of', /\bof\b/], ['globalThis', /globalThis/]]) {
    assert.ok(!re.test(code), `the trigger uses ${what}`);
  }
});

test('settings are edited, not guessed: an unknown setting is refused', () => {
  assert.throws(() => triggerSource({ NO_SUCH_SETTING: 1 }), /found 0 definitions/);
});

test('the stand-in refuses what an ODS target cannot send', () => {
  assert.throws(() => plainCopy({ a: new Device(1, 'x') }, 'doc'), /live Device/);
  assert.throws(() => plainCopy({ a: [new IPAddress('192.0.2.1')] }, 'doc'), /live IPAddress/);
  assert.throws(() => plainCopy({ a: undefined }, 'doc'), /undefined/);
  assert.throws(() => plainCopy({ a: NaN }, 'doc'), /NaN/);
  assert.deepStrictEqual(plainCopy({ a: [1, 'x', null, { b: true }] }, 'doc'), { a: [1, 'x', null, { b: true }] });
});

test('every fixture runs without the trigger throwing', () => {
  for (const f of fixtures()) {
    const rec = runTrigger(f.detection, { event: f.event });
    assert.strictEqual(rec.mongo.length, f.writes === undefined ? 1 : f.writes, f.name);
  }
});

let failed = 0;
console.log(`1..${tests.length}`);
tests.forEach((t, i) => {
  try {
    t.fn();
    console.log(`ok ${i + 1} - ${t.name}`);
  } catch (e) {
    failed++;
    console.log(`not ok ${i + 1} - ${t.name}`);
    console.log(String(e && e.stack ? e.stack : e).split('\n').map((l) => `# ${l}`).join('\n'));
  }
});
process.exitCode = failed ? 1 : 0;
