#!/usr/bin/env node
'use strict';
// In-process cost of the server's command handling (no sockets, no client): how many
// microseconds of server CPU a ping, an insert and an _id lookup take. Together with
// tests/integration/test_mongo_bench.c (the same operations through libmongoc over
// loopback) it tells whether the server or the round trip limits the rate.
//
// usage: node bench.js [N]

const { Engine } = require('./commands');
const { BSON, Long, Int32, Binary, toRaw } = require('./bsonutil');

const N = Number(process.argv[2]) || 50000;
const log = { info() {}, warn() {}, error: (m) => process.stderr.write(`${m}\n`) };
const engine = new Engine({ host: '127.0.0.1', replset: 'rs0', history: 1000000, log });
engine.history.start();
const lsid = { id: new Binary(Buffer.alloc(16), 4) };

function time(label, n, fn) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  process.stdout.write(`${label}: ${us.toFixed(1)} us/op (${Math.round(1e6 / us)}/s)\n`);
}

function run(cmd, db, seq) {
  const res = engine.execute(null, toRaw(BSON.serialize(cmd)), db, seq || null, {});
  if (!res.reply) throw new Error('no reply');
  return res;
}

time('ping', N, () => run({ ping: 1, $db: 'admin', lsid }, 'admin'));
time('insert (one document, kind-1 sequence)', N, (i) => run(
  { insert: 'c', $db: 'd', lsid }, 'd',
  { documents: [BSON.serialize({ _id: Long.fromNumber(i), id: Long.fromNumber(i), title: `Detection ${i}`, risk: new Int32(i % 100), status: 'new' })] },
));
time('find by _id (limit 1, singleBatch)', N, (i) => run(
  { find: 'c', filter: { _id: Long.fromNumber(i) }, limit: Long.fromNumber(1), singleBatch: true, $db: 'd', lsid }, 'd',
));
time('update $set by _id', N, (i) => run(
  { update: 'c', $db: 'd', lsid }, 'd',
  { updates: [BSON.serialize({ q: { _id: Long.fromNumber(i) }, u: { $set: { status: 'closed' } } })] },
));
