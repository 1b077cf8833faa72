#!/usr/bin/env node
'use strict';
// Run ticketsync-trigger.js over every Detection fixture against the stand-in runtime
// and print each recorded call as one line of MongoDB Extended JSON:
//
//   {"fixture": "...", "kind": "mongodb", "target": null, "method": "update",
//    "args": ["<db>.detections", {"_id": 1}, {"$set": {...}}, {"upsert": true}]}
//   {"fixture": "...", "kind": "http", "target": "ticket-server", "method": "post", "req": {...}}
//
// usage: run-trigger.js [--db NAME] [--numbers relaxed|double|int64]
//                       [--mongodb-target NAME]
//
// --numbers says how JavaScript numbers are written, because ExtraHop does not document
// what the ODS target sends: relaxed (plain JSON numbers: int32/int64 when integral,
// else double), double (every number a BSON double), int64 (integral numbers int64).

const { runTrigger, compile } = require('./standin');
const { fixtures } = require('./fixtures');

function usage(msg) {
  if (msg) process.stderr.write(`run-trigger: ${msg}\n`);
  process.stderr.write('usage: run-trigger.js [--db NAME] [--numbers relaxed|double|int64] '
    + '[--mongodb-target NAME]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { settings: {}, numbers: 'relaxed' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--db') o.settings.DB = value();
    else if (a === '--numbers') o.numbers = value();
    else if (a === '--mongodb-target') o.settings.MONGODB_TARGET = value();
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument "${a}"`);
  }
  if (!['relaxed', 'double', 'int64'].includes(o.numbers)) usage(`--numbers: unknown mode "${o.numbers}"`);
  return o;
}

// Extended JSON with numbers typed per mode (JSON.stringify alone cannot say "double").
function ejson(v, mode) {
  if (typeof v === 'number') {
    if (mode === 'double') return JSON.stringify({ $numberDouble: String(v) });
    if (mode === 'int64' && Number.isInteger(v)) return JSON.stringify({ $numberLong: String(v) });
    if (Number.isInteger(v)) return String(v);
    return JSON.stringify({ $numberDouble: String(v) });
  }
  if (Array.isArray(v)) return `[${v.map((x) => ejson(x, mode)).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${ejson(v[k], mode)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const script = compile(o.settings);
  const out = [];

  for (const f of fixtures()) {
    let rec;
    try {
      rec = runTrigger(f.detection, { script, event: f.event });
    } catch (e) {
      process.stderr.write(`run-trigger: fixture ${f.name}: the trigger threw: ${e.stack || e}\n`);
      process.exit(1);
    }
    for (const c of rec.mongo) {
      out.push(ejson({ fixture: f.name, kind: 'mongodb', target: c.target, method: c.method, args: c.args }, o.numbers));
    }
    for (const c of rec.http) {
      out.push(ejson({ fixture: f.name, kind: 'http', target: c.target, method: c.method, req: c.req }, o.numbers));
    }
    for (const m of rec.log) process.stderr.write(`run-trigger: fixture ${f.name}: trigger log: ${m}\n`);
  }
  process.stdout.write(out.map((l) => `${l}\n`).join(''));
}

main();
