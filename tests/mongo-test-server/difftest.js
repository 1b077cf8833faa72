#!/usr/bin/env node
'use strict';
// Differential check: runs one deterministic pseudo-random workload (the product's
// collections, validators and indexes from schema/*.json, plus a free-form
// collection with partial/unique indexes; inserts, updates of every operator kind,
// upserts, CAS filters, claim queries, $in lookups, ranges, deletes, findAndModify,
// and some 25 change streams with $match filters of many shapes) against two copies
// of this server in-process, and compares every reply (cluster times, wall times,
// cursor ids and collection UUIDs blanked). Use it when changing a fast path:
//
//   git worktree add /tmp/ts-before HEAD~1    # and npm ci in its tests/mongo-test-server
//   node difftest.js /tmp/ts-before/tests/mongo-test-server [SEED] [STEPS]
//
// usage: node difftest.js OTHER_DIR [SEED [STEPS]]   (compares OTHER_DIR with this one)
//        node difftest.js --run DIR SEED STEPS        (prints the replies of one engine)
const path = require('path');
const fs = require('fs');
const { execFileSync } = require('child_process');

if (process.argv[2] !== '--run') {
  const other = process.argv[2];
  if (!other) {
    process.stderr.write('usage: node difftest.js OTHER_DIR [SEED [STEPS]]\n');
    process.exit(2);
  }
  const seed = process.argv[3] || '1';
  const steps = process.argv[4] || '3000';
  const run = (dir) => execFileSync(process.execPath, [__filename, '--run', path.resolve(dir), seed, steps], { maxBuffer: 1 << 30 }).toString().split('\n');
  const a = run(other);
  const b = run(__dirname);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      process.stdout.write(`reply ${i} differs:\n< ${String(a[i]).slice(0, 2000)}\n> ${String(b[i]).slice(0, 2000)}\n`);
      process.exit(1);
    }
  }
  process.stdout.write(`seed ${seed}: ${a.length - 1} replies, identical\n`);
  process.exit(0);
}

const DIR = process.argv[3];
const SEED = Number(process.argv[4] || 1);
const N = Number(process.argv[5] || 3000);
const { Engine } = require(path.join(DIR, 'commands'));
const { BSON, Long, Int32, Double, Binary, ObjectId, Decimal128, Timestamp, toRaw } = require(path.join(DIR, 'bsonutil'));
let oidc = 0;
ObjectId.generate = () => { const b = Buffer.alloc(12); b.writeUInt32BE(++oidc, 8); return b; };
const log = { info() {}, warn(m) { out.push('WARN ' + m.replace(/"\$date":"[^"]*"/g, '')); }, error: (m) => process.stderr.write(`${m}\n`) };
const out = [];
const engine = new Engine({ host: '127.0.0.1', replset: 'rs0', history: 1000000, log });
engine.history.start();
let s = SEED >>> 0;
function rnd() { s = (s * 1664525 + 1013904223) >>> 0; return s / 4294967296; }
function ri(n) { return Math.floor(rnd() * n); }
function pick(a) { return a[ri(a.length)]; }
const lsid = { id: new Binary(Buffer.alloc(16), 4) };
const DB = 'd';

function norm(v, key) {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Date) return (key === 'wallTime' || key === 'localTime' || key === 'currentTime') ? 'DATE' : { $date: v.getTime() };
  if (Array.isArray(v)) return v.map((x) => norm(x));
  switch (v._bsontype) {
    case 'Timestamp': return 'TS';
    case 'Long': return { $long: v.toString() };
    case 'Int32': return { $int: v.value };
    case 'Double': return { $double: String(v.value) };
    case 'Decimal128': return { $dec: v.toString() };
    case 'ObjectId': return { $oid: v.toHexString() };
    case 'Binary': return { $bin: Buffer.from(v.buffer).toString('hex') };
    default: break;
  }
  const o = {};
  for (const k of Object.keys(v)) {
    if (k === 'operationTime' || k === '$clusterTime' || k === 'electionId' || k === 'uuid' || k === 'localTime') { o[k] = 'X'; continue; }
    if (k === '_data' && typeof v[k] === 'string') { o[k] = v[k].slice(0, 2) + v[k].slice(18); continue; }
    if (k === 'id' && v[k] && v[k]._bsontype === 'Long') { o[k] = v[k].isZero() ? 0 : 'CURSOR'; continue; }
    o[k] = norm(v[k], k);
  }
  return o;
}

function run(cmd, seq) {
  cmd.$db = DB; cmd.lsid = lsid;
  const res = engine.execute(null, toRaw(BSON.serialize(cmd)), DB, seq || null, {});
  if (!res.reply) throw new Error('no reply ' + JSON.stringify(res));
  const r = BSON.deserialize(res.reply.subarray ? res.reply : res.reply, { promoteValues: false, promoteBuffers: false, bsonRegExp: true });
  out.push(JSON.stringify(norm(r)).replace(/cursor id \d+/g, 'cursor id N'));
  return r;
}
function seqOf(docs) { return docs.map((d) => BSON.serialize(d)); }

// collections from schema/*.json
const schemaDir = path.join(__dirname, '..', '..', 'schema');
for (const f of fs.readdirSync(schemaDir)) {
  const j = JSON.parse(fs.readFileSync(path.join(schemaDir, f)));
  run({ create: j.collection, validator: j.validator, validationLevel: j.validationLevel, validationAction: j.validationAction });
  if (j.indexes.length) run({ createIndexes: j.collection, indexes: j.indexes.map((x) => BSON.EJSON.deserialize(x)) });
}
run({ create: 'plain' });
run({ createIndexes: 'plain', indexes: [{ key: { a: 1, b: -1 }, name: 'a_b' }, { key: { tag: 1 }, name: 'tag_p', partialFilterExpression: { kind: { $gt: 2 } } }, { key: { u: 1 }, name: 'u_1', unique: true, sparse: true }, { key: { w: 1 }, name: 'w_p', unique: true, partialFilterExpression: { kind: 3 } }, { key: { w3: 1 }, name: 'w3_p', unique: true, partialFilterExpression: { kind: { $gte: 3 } } }, { key: { w2: 1, w: 1 }, name: 'w2_p', unique: true, partialFilterExpression: { 'sub.k': 'on', kind: 3 } }] });

// change streams
const streams = [];
function openStream(coll, spec, pipeline) {
  const r = run({ aggregate: coll === null ? 1 : coll, pipeline: [{ $changeStream: spec }, ...pipeline], cursor: { batchSize: 0 } });
  if (r.cursor) streams.push({ id: r.cursor.id, coll: coll === null ? '$cmd.aggregate' : coll });
}
openStream(null, { fullDocument: 'updateLookup' }, [{ $match: { $or: [{ 'ns.coll': { $in: ['detections', 'tickets'] } }, { operationType: { $in: ['dropDatabase', 'invalidate'] } }] } }]);
openStream(null, {}, []);
openStream(null, {}, [{ $match: { 'ns.coll': 'plain' } }]);
openStream(null, {}, [{ $match: { ns: { db: DB, coll: 'plain' } } }]);
openStream(null, {}, [{ $match: { 'ns.db': DB, operationType: { $nin: ['insert'] } } }]);
openStream(null, {}, [{ $match: { 'ns.coll': 'ticketsync_state', 'fullDocument.state': 'pending' } }]);
openStream(null, { fullDocument: 'updateLookup' }, [{ $match: { 'ns.coll': { $in: ['ticketsync_state'] } } }, { $match: { 'fullDocument.state': 'in_flight' } }]);
openStream(null, {}, [{ $match: { 'ns.coll': 'ticketsync_state', 'updateDescription.updatedFields.state': { $exists: true } } }]);
openStream(null, {}, [{ $match: { $and: [{ 'ns.coll': /^t/ }, { operationType: 'update' }] } }]);
openStream(null, {}, [{ $match: { 'ns.coll': { $regex: 'audit' } } }, { $project: { ns: 1, operationType: 1 } }]);
openStream(null, {}, [{ $match: { 'ns.coll': { $ne: 'ticketsync_audit' }, documentKey: { _id: Long.fromNumber(3) } } }]);
openStream(null, {}, [{ $match: { $expr: { $eq: ['$ns.coll', 'plain'] } } }]);
openStream(null, {}, [{ $match: { ns: { $exists: true }, 'ns.coll': { $exists: false } } }]);
openStream(null, {}, [{ $match: { $nor: [{ 'ns.coll': 'ticketsync_audit' }] } }]);
openStream(null, {}, [{ $match: { operationType: { $in: ['delete', 'replace'] } } }]);
openStream(null, {}, [{ $match: { 'ns.coll': { $in: [/^tick/, 'plain'] } } }]);
openStream(null, {}, [{ $match: { 'ns.coll': { $gt: 'p' } } }]);
openStream(null, {}, [{ $match: { 'ns.coll': 'plain', 'fullDocument.kind': { $gt: 2 } } }]);
openStream('ticketsync_state', {}, [{ $match: { operationType: 'update' } }]);
openStream('plain', { fullDocumentBeforeChange: 'whenAvailable' }, [{ $match: { 'ns.coll': 'plain' } }]);
openStream(null, {}, [{ $match: { 'ns.coll': 'plain' } }, { $addFields: { x: 1 } }]);
openStream(null, {}, [{ $match: { 'ns.coll': ['plain'] } }]);
openStream(null, {}, [{ $match: { 'ns.coll': null } }]);
openStream(null, {}, [{ $match: { 'ns.coll': { $not: { $eq: 'plain' } } } }]);
openStream(null, {}, [{ $match: { 'ns.coll': { $type: 'string' } } }]);
openStream(null, {}, [{ $match: { 'ns.colls': { $exists: false }, 'ns.coll': 'tickets' } }]);
openStream(null, {}, [{ $match: { operationType: 'drop' } }]);
run({ collMod: 'plain', changeStreamPreAndPostImages: { enabled: true } });

function pollStreams() {
  for (const st of streams) run({ getMore: st.id, collection: st.coll, maxTimeMS: Long.fromNumber(0) });
}

const T0 = 1790000000000;
let now = T0;
const STATES = ['pending', 'in_flight', 'synced', 'parked', 'pending', 'in_flight', 'bogus'];
function fields4() { return { ticket_id: pick([null, 't1', 't2']), status: pick(['new', 'closed', null]), assignee: pick([null, 'bob']), resolution: null }; }
const versions = new Map();
const MAXID = 300;
function stateDoc(id) {
  const d = { _id: ri(30) ? Long.fromNumber(id) : new Int32(id), desired: fields4(), baseline: fields4(), version: Long.fromNumber(1), pushed_version: Long.fromNumber(0), state: pick(STATES), attempts: new Int32(0), next_attempt_at: new Date(T0 + ri(100000)), updated_at: new Date(T0) };
  if (ri(10) === 0) d.desired.status = 'zzz';
  if (d.state === 'in_flight') { d.claim_id = 'c' + ri(50); d.claimed_until = new Date(T0 + ri(100000)); }
  if (ri(20) === 0) d.bad = 'x';
  return d;
}
function kind3() {
  return pick([1, 3, new Int32(5), 'z', null, new Int32(3), 3.0, new Double(3), Long.fromNumber(3), Decimal128.fromString('3'), '3', [3], [[3]], { k: 3 }, [1, new Int32(3)], Decimal128.fromString('3.0000000000000001')]);
}
function val() {
  return pick([new Int32(ri(10)), Long.fromNumber(ri(10)), new Double(ri(10)), ri(10) + 0.5, 'v' + ri(5), null, [ri(3), ri(3)], { x: ri(3) }, new Date(T0 + ri(10)), true, Decimal128.fromString(String(ri(4)))]);
}

for (let step = 0; step < N; step++) {
  now += ri(1000);
  const r = ri(100);
  if (r < 12) {
    const n = 1 + ri(20);
    const docs = [];
    for (let i = 0; i < n; i++) docs.push(stateDoc(ri(MAXID)));
    run({ insert: 'ticketsync_state', ordered: ri(2) === 0 }, { documents: seqOf(docs) });
  } else if (r < 35) {
    const n = 1 + ri(30);
    const ups = [];
    for (let i = 0; i < n; i++) {
      const id = ri(MAXID);
      const q = { _id: Long.fromNumber(id) };
      if (ri(3) === 0) q.version = Long.fromNumber(1 + ri(3));
      if (ri(4) === 0) q.state = pick(STATES);
      const st = pick(STATES);
      const set = { state: st, version: Long.fromNumber(1 + ri(3)), next_attempt_at: new Date(T0 + ri(100000)) };
      const u = { $set: set };
      if (st === 'in_flight') { set.claim_id = 'c' + ri(50); set.claimed_until = new Date(T0 + ri(100000)); } else if (ri(2)) u.$unset = { claim_id: '', claimed_until: '' };
      if (ri(5) === 0) u.$inc = { attempts: pick([new Int32(1), Long.fromNumber(1), 1.5]) };
      if (ri(40) === 0) set.last_error = ri(2) ? 'e' + ri(3) : new Int32(5);
      if (ri(40) === 0) u.$push = { hist: { $each: [ri(3)], $slice: -3 } };
      if (ri(20) === 0) { delete u.$set; u.$rename = { attempts: 'tries' }; }
      if (ri(50) === 0) { u.$set = { 'desired.status': pick(['new', 'x']), 'last.at': new Date(T0), 'last.outcome': 'retry' }; }
      if (ri(50) === 0) { u.$set = { 'sub.a': ri(3), 'sub.b': [ri(2), { c: ri(2) }] }; }
      if (ri(30) === 0) { u.$set = { state: 'pending' }; }
      const stmt = { q, u };
      if (ri(10) === 0) stmt.upsert = true;
      if (ri(15) === 0) { stmt.q = { state: pick(STATES) }; stmt.multi = true; stmt.u = { $set: ri(5) ? { fencing: Long.fromNumber(1 + ri(3)) } : { touched: 1 } }; }
      if (ri(30) === 0) { stmt.u = stateDoc(id); delete stmt.u._id; }
      ups.push(stmt);
    }
    run({ update: 'ticketsync_state', ordered: ri(3) > 0 }, { updates: seqOf(ups) });
  } else if (r < 45) {
    const n = 1 + ri(20);
    const docs = [];
    for (let i = 0; i < n; i++) {
      const d = { _id: new ObjectId(Buffer.from(((SEED * 1000003 + step * 131 + i) >>> 0).toString(16).padStart(24, '0'), 'hex')), at: new Date(T0 + ri(1000)), event: pick(['push_ok', 'push_failed', 'Bad', 'refused_input', '']) };
      if (ri(2)) d.detection_id = ri(5) ? Long.fromNumber(ri(100)) : new Int32(3);
      if (ri(3) === 0) d.ticket_id = 't' + ri(10);
      if (ri(4) === 0) d.fields = { a: 1 };
      if (ri(20) === 0) d.extra = 1;
      if (ri(10) === 0) d.attempt = ri(2) ? new Int32(2) : 2.5;
      docs.push(d);
    }
    run({ insert: 'ticketsync_audit', ordered: ri(2) === 0 }, { documents: seqOf(docs) });
  } else if (r < 52) {
    const n = 1 + ri(10);
    const docs = [];
    for (let i = 0; i < n; i++) {
      const d = { _id: Long.fromNumber(ri(500) + 1), title: 'T' + ri(9), type: pick(['a', '', 'b']), categories: pick([['x'], [], [1]]), start_time: Long.fromNumber(T0), update_time: Long.fromNumber(T0 + ri(9)), status: pick(['new', 'closed', 'weird', null]) };
      if (ri(4) === 0) d.participants = [{ a: 1 }, pick([{ b: 2 }, 3])];
      if (ri(5) === 0) delete d.title;
      docs.push(d);
    }
    run({ insert: 'detections', ordered: false }, { documents: seqOf(docs) });
  } else if (r < 58) {
    const docs = [];
    for (let i = 0; i < 1 + ri(5); i++) {
      docs.push({ _id: 'T-' + ri(200), detection_ids: [Long.fromNumber(ri(300)), pick([new Int32(ri(300)), 0, 'x'])], status: pick(['Open', '', null]), assignee: pick([null, 'bob']), resolution: null, updated_at: new Date(T0 + ri(99)) });
    }
    run({ insert: 'tickets', ordered: false }, { documents: seqOf(docs) });
  } else if (r < 66) {
    const docs = [];
    for (let i = 0; i < 1 + ri(8); i++) {
      const d = { _id: new Int32(ri(200)), a: val(), b: val(), kind: kind3(), tag: val(), w: ri(6), w2: ri(2), w3: ri(8) };
      if (ri(2)) d.sub = pick([{ k: 'on' }, { k: 'off' }, [{ k: 'on' }], [{ k: 'x' }, { k: 'on' }], 'on', { k: ['on'] }, [new Int32(1)]]);
      if (ri(3) === 0) d.u = val();
      if (ri(5) === 0) delete d.a;
      docs.push(d);
    }
    run({ insert: 'plain', ordered: ri(2) === 0 }, { documents: seqOf(docs) });
  } else if (r < 74) {
    const ups = [];
    for (let i = 0; i < 1 + ri(10); i++) {
      const u = pick([
        { $set: { a: val() } }, { $set: { b: val(), kind: pick([1, 3, 5, 'z']) } }, { $set: { tag: val() } },
        { $unset: { a: '' } }, { $set: { u: val() } }, { $set: { 'a.x': 1 } }, { $inc: { kind: 1 } },
        { $set: { a: [1, 2, 3] } }, { $push: { arr: ri(3) } }, { $pop: { arr: 1 } }, { $set: { 'n.m.o': [ri(2)] } },
        { $set: { kind: 3, tag: 'same' } }, { $set: { kind: kind3() } }, { $set: { w: ri(6) } }, { $set: { 'sub.k': pick(['on', 'off']) } }, { $set: { kind: kind3(), w: ri(6) } }, { $set: { obj: { k: ri(3), l: [ri(2)] } } }, { $max: { kind: ri(6) } },
      ]);
      const stmt = { q: ri(4) ? { _id: ri(200) } : { kind: { $gte: ri(4) } }, u };
      if (ri(5) === 0) stmt.multi = true;
      if (ri(8) === 0) stmt.upsert = true;
      ups.push(stmt);
    }
    run({ update: 'plain', ordered: ri(2) === 0 }, { updates: seqOf(ups) });
  } else if (r < 84) {
    const D = new Date(T0 + ri(100000));
    const f = { $or: [{ state: 'pending', next_attempt_at: { $lte: D } }, { state: 'in_flight', claimed_until: { $lt: D } }] };
    const cmd = { find: 'ticketsync_state', filter: f };
    if (ri(2)) { cmd.sort = { next_attempt_at: 1 }; cmd.limit = Long.fromNumber(1 + ri(30)); }
    if (ri(3) === 0) cmd.projection = { _id: 1, state: 1, next_attempt_at: 1 };
    if (ri(4) === 0) cmd.filter = { state: pick(STATES), next_attempt_at: pick([{ $lte: D }, { $gt: D }, { $gte: D, $lt: new Date(D.getTime() + 20000) }, { $lt: 5 }]) };
    if (ri(6) === 0) cmd.filter = { state: { $in: ['pending', 'done'] }, next_attempt_at: { $lte: D } };
    if (ri(6) === 0) cmd.filter = { $and: [{ state: 'pending' }, { next_attempt_at: { $gt: D } }] };
    if (ri(8) === 0) cmd.filter = { claim_id: 'c' + ri(50), state: 'in_flight' };
    if (ri(8) === 0) cmd.filter = { claim_id: 'c' + ri(50) };
    cmd.batchSize = new Int32(1000);
    run(cmd);
  } else if (r < 90) {
    const ids = [];
    for (let i = 0; i < 1 + ri(40); i++) ids.push(pick([Long.fromNumber(ri(MAXID)), new Int32(ri(MAXID)), ri(MAXID) + 0.0, 'x', null, ri(MAXID) + 0.5]));
    const c = pick(['ticketsync_state', 'plain', 'tickets', 'ticketsync_audit']);
    const fld = c === 'tickets' ? pick(['detection_ids', '_id']) : pick(['_id', '_id', 'kind', 'tag', 'a', 'detection_id', 'a.x', 'missing']);
    const filter = { [fld]: { $in: ri(6) ? ids : [...ids, /x/] } };
    if (ri(4) === 0) filter.state = 'pending';
    run({ find: c, filter, batchSize: new Int32(1000) });
  } else if (r < 93) {
    run({ find: 'plain', filter: pick([{ a: { $gte: ri(5) } }, { a: ri(5), b: { $lt: 5 } }, { tag: val(), kind: { $gt: 2 } }, { a: 'v1', b: { $gte: 'v' } }, { a: { $in: [1, 2, 'v3'] }, b: { $lte: 4 } }]), sort: pick([undefined, { a: 1 }, { b: -1 }]), limit: Long.fromNumber(ri(5)), batchSize: new Int32(1000) });
  } else if (r < 95) {
    run({ delete: pick(['ticketsync_state', 'plain']), deletes: [{ q: { _id: pick([Long.fromNumber(ri(MAXID)), ri(200)]) }, limit: 1 }] });
  } else if (r < 96) {
    run({ findAndModify: 'ticketsync_state', query: { state: 'pending' }, sort: { next_attempt_at: 1 }, update: { $set: { state: 'in_flight', claim_id: 'c' + ri(50), claimed_until: new Date(T0 + ri(100000)) } }, new: true });
  } else {
    pollStreams();
  }
  if (step % 50 === 49) pollStreams();
}
pollStreams();
run({ drop: 'plain' });
pollStreams();
run({ dropDatabase: 1 });
pollStreams();
process.stdout.write(out.join('\n') + '\n');
