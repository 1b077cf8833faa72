'use strict';
// Command dispatch: the Engine owns the store, the change history, cursors, fail
// points and persistence, and answers one command document at a time.

const crypto = require('crypto');
const {
  BSON, Long, Int32, ObjectId, Binary, toRaw, toView, serialize, typeName, isPlainObject,
  numberValue, promote, fromJs, valuesAtPath, compare, equals, buildDoc, elementsOf, keyString,
} = require('./bsonutil');
const { CommandError, errorReply, labelsFor } = require('./errors');
const { compileFilterRaw, aggregate, parseSort, sortRecords, compileProjection } = require('./query');
const update = require('./update');
const { Store, Collection } = require('./storage');
const { Clock, History, ChangeStream, diff } = require('./changestream');
const { rec: record } = require('./persist');

const MAX_WIRE_VERSION = 21; // MongoDB 7.0
const BATCH_BYTES = 16 * 1024 * 1024;
const CURSOR_IDLE_MS = 10 * 60 * 1000;
const RETRY_CACHE_MAX = 10000;

function num(v, dflt) {
  if (v === undefined || v === null) return dflt;
  const n = numberValue(v);
  if (Number.isNaN(n)) throw new CommandError(14, `expected a number, got ${typeName(v)}`);
  return n;
}

function collName(cmd, name) {
  const v = cmd[name];
  if (typeof v !== 'string') {
    throw new CommandError(73, `collection name has invalid type ${typeName(v)}`);
  }
  if (v.length === 0) throw new CommandError(73, `Invalid namespace specified '.'`);
  return v;
}

// Collations other than "simple" change comparison semantics the test server does not
// implement: refuse them rather than silently compare binary.
function checkCollation(c) {
  if (c === undefined) return;
  if (isPlainObject(c) && c.locale === 'simple') return;
  throw new CommandError(115, 'collation other than {locale: "simple"} is not supported by the ticketsync MongoDB test server');
}

function writeError(index, e) {
  const we = { index, code: e.code };
  if (e.extra && e.extra.keyPattern) {
    we.keyPattern = e.extra.keyPattern;
    we.keyValue = e.extra.keyValue;
  }
  we.errmsg = e.message;
  if (e.extra && e.extra.errInfo) we.errInfo = e.extra.errInfo;
  return we;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const WRITE_COMMANDS = new Set(['insert', 'update', 'delete', 'findAndModify', 'findandmodify']);
const EXEMPT_FROM_FAILPOINT = new Set(['configureFailPoint']);

class Engine {
  constructor(opts) {
    this.opts = opts;
    this.log = opts.log;
    this.store = new Store(this.log);
    this.clock = new Clock();
    this.history = new History(opts.history, this.clock);
    this.persister = opts.persister || null;
    this.cursors = new Map(); // id string -> cursor
    this.failpoint = null;
    this.retryCache = new Map(); // lsid:txnNumber -> first reply
    this.sessionTxn = new Map(); // lsid -> highest txnNumber
    this.host = opts.host;
    this.port = 0;
    this.replset = opts.replset;
    this.connections = new Set(); // set by the server
    this.connectionCounter = 0;
    this.electionId = new ObjectId('7fffffff0000000000000001');
    this.startTime = Date.now();
    this.store.writeHook = (change) => this.onWrite(change);
    this.store.createHook = (c) => this.persist(record.createColl(c));
    this.sweeper = setInterval(() => this.sweepCursors(), 60 * 1000);
    this.sweeper.unref();
    this.ttlSleepSecs = 60; // mongod's ttlMonitorSleepSecs default
    this.startTtlMonitor();
  }

  // TTL indexes: like mongod's TTL monitor, a periodic pass deletes documents whose
  // indexed date (the earliest, for arrays) is older than expireAfterSeconds.
  startTtlMonitor() {
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    this.ttlTimer = setInterval(() => this.ttlPass(), this.ttlSleepSecs * 1000);
    this.ttlTimer.unref();
  }

  ttlPass() {
    const now = Date.now();
    for (const d of [...this.store.dbs.values()]) {
      for (const c of [...d.collections.values()]) {
        for (const idx of c.indexes.values()) {
          if (idx.spec.expireAfterSeconds === undefined || idx.parts.length !== 1) continue;
          const cutoff = now - num(idx.spec.expireAfterSeconds) * 1000;
          for (const rec of [...c.docs.values()]) {
            const dates = [];
            for (const v of valuesAtPath(rec.raw, idx.parts[0])) {
              for (const x of Array.isArray(v) ? v : [v]) if (x instanceof Date) dates.push(x.getTime());
            }
            if (dates.length && Math.min(...dates) < cutoff && c.docs.get(keyString(rec.id)) === rec) c.remove(rec);
          }
        }
      }
    }
    if (this.persister) this.persister.flush();
  }

  me() {
    return `${this.host}:${this.port}`;
  }

  persist(bytes) {
    if (this.persister) this.persister.append(bytes);
  }

  // ---- persistence replay ----

  load(records) {
    const trimmedBefore = [];
    for (const r of records) {
      switch (r.op) {
        case 'origin': this.history.originTs = r.ts; this.clock.advanceTo(r.ts); break;
        case 'cc': {
          const d = this.store.db(r.db, true);
          const c = new Collection(d, r.coll, { ...r.opts, uuid: r.uuid });
          d.collections.set(r.coll, c);
          break;
        }
        case 'cm': { const c = this.store.coll(r.db, r.coll, false); if (c) c.setOptions(r.opts); break; }
        case 'dc': this.store.dropCollection(r.db, r.coll); break;
        case 'ci': { const c = this.store.coll(r.db, r.coll, false); if (c) c.createIndex(r.spec); break; }
        case 'di': { const c = this.store.coll(r.db, r.coll, false); if (c && c.indexes.has(r.name)) c.dropIndex(r.name); break; }
        case 'put': { const c = this.store.coll(r.db, r.coll, false); if (c) c.loadDoc(Buffer.from(r.doc[0])); break; }
        case 'del': { const c = this.store.coll(r.db, r.coll, false); if (c) c.unloadDoc(r.id); break; }
        case 'ev': {
          const ev = { seq: num(r.seq), ts: r.ts, wall: r.wall, db: r.db, op: r.o };
          if (r.coll !== undefined) ev.coll = r.coll;
          if (r.id !== undefined) ev.id = r.id;
          if (r.upd !== undefined) ev.upd = r.upd;
          if (r.post) ev.post = Buffer.from(r.post[0]);
          if (r.pre) ev.pre = Buffer.from(r.pre[0]);
          this.history.load(ev);
          break;
        }
        case 'trim': trimmedBefore.push(num(r.seq)); break;
        default: this.log.warn(`persistence: unknown record type ${r.op}`);
      }
    }
    // History trimmed before the last compaction: those events are gone for good.
    if (trimmedBefore.length) this.history.dropBefore(Math.max(...trimmedBefore));
    this.history.trim();
  }

  // How many records a snapshot of the current state would hold.
  liveRecordCount() {
    let n = 2 + this.history.size;
    for (const d of this.store.dbs.values()) {
      for (const c of d.collections.values()) n += 1 + c.indexes.size + c.docs.size;
    }
    return n;
  }

  // Snapshot records describing the current state (compaction).
  snapshot() {
    const out = [];
    this.history.start();
    out.push(record.origin(this.history.originTs));
    for (const d of this.store.dbs.values()) {
      for (const c of d.collections.values()) {
        out.push(record.createColl(c));
        for (const idx of c.indexes.values()) out.push(record.createIndex(c, idx.spec));
        for (const r of c.docs.values()) out.push(record.put(c, r.bytes));
      }
    }
    if (this.history.trimmed) out.push(serialize({ op: 'trim', seq: Long.fromNumber(this.history.firstSeq) }));
    for (const ev of this.history.retained()) out.push(record.event(ev));
    return out;
  }

  // ---- write hook: change events and persistence ----

  onWrite(ch) {
    const c = ch.coll;
    const ev = { ts: this.clock.next(), wall: new Date(), db: c.db.name, coll: c.name, op: ch.op, id: ch.rec.id };
    if (ch.op === 'insert' || ch.op === 'replace') ev.post = ch.rec.bytes;
    if (ch.op === 'update') {
      ev.upd = diff(ch.oldRaw, ch.rec.raw);
      if (c.prePostImages) ev.post = ch.rec.bytes;
    }
    if (c.prePostImages && (ch.op === 'update' || ch.op === 'replace')) ev.pre = ch.oldBytes;
    if (c.prePostImages && ch.op === 'delete') ev.pre = ch.rec.bytes;
    this.history.append(ev);
    if (this.persister) {
      if (ch.op === 'delete') this.persist(record.del(c, ch.rec.id));
      else this.persist(record.put(c, ch.rec.bytes));
      this.persist(record.event(ev));
    }
  }

  ddlEvent(op, dbName, coll) {
    const ev = { ts: this.clock.next(), wall: new Date(), db: dbName, op };
    if (coll !== undefined) ev.coll = coll;
    this.history.append(ev);
    this.persist(record.event(ev));
  }

  setHistoryLimit(n) {
    this.history.setLimit(n);
    if (this.history.trimmed) this.persist(serialize({ op: 'trim', seq: Long.fromNumber(this.history.firstSeq) }));
  }

  // ---- cursors ----

  newCursorId() {
    for (;;) {
      const b = crypto.randomBytes(8);
      b[7] &= 0x7f;
      const id = b.readBigInt64LE(0);
      if (id !== 0n && !this.cursors.has(id.toString())) return id;
    }
  }

  registerCursor(cur) {
    const id = this.newCursorId();
    cur.id = id;
    cur.lastUsed = Date.now();
    this.cursors.set(id.toString(), cur);
    return Long.fromBigInt(id);
  }

  sweepCursors() {
    const now = Date.now();
    for (const [k, cur] of this.cursors) {
      if (!cur.noTimeout && !cur.busy && now - cur.lastUsed > CURSOR_IDLE_MS) this.cursors.delete(k);
    }
  }

  takeBatch(cur, n) {
    const out = [];
    let bytes = 0;
    while (cur.pos < cur.items.length && out.length < n && (out.length === 0 || bytes < BATCH_BYTES)) {
      let b = cur.items[cur.pos++];
      if (cur.proj) b = serialize(cur.proj(toRaw(b)));
      out.push(b);
      bytes += b.length;
    }
    return out;
  }

  cursorReply(batchName, docs, id, ns, pbrt) {
    const inner = [[batchName, docs]];
    if (pbrt) inner.push({ postBatchResumeToken: pbrt });
    inner.push({ id: typeof id === 'bigint' ? Long.fromBigInt(id) : id, ns });
    return { __parts: [['cursor', buildDoc(inner)], { ok: 1 }] };
  }

  // ---- fail points ----

  checkFailpoint(name, conn) {
    const fp = this.failpoint;
    if (!fp || EXEMPT_FROM_FAILPOINT.has(name)) return null;
    const list = fp.data.failCommands;
    if (!Array.isArray(list) || !list.includes(name)) return null;
    // data.appName: only connections whose handshake named that application.
    if (typeof fp.data.appName === 'string' && (!conn || conn.appName !== fp.data.appName)) return null;
    if (fp.skip > 0) {
      fp.skip -= 1;
      return null;
    }
    if (fp.times !== null) {
      fp.times -= 1;
      if (fp.times <= 0) this.failpoint = null;
    }
    return fp.data;
  }

  // ---- entry point ----

  // Returns { reply: Buffer, after? } or { close: true } (the fail point dropped the
  // connection) or { noReply: true }; or a Promise of one when the command waits (a
  // change stream getMore, a blocking fail point). Synchronous otherwise: most
  // commands answer within the same tick.
  execute(conn, cmd, dbName, sequences, opts) {
    const name = Object.keys(cmd)[0];
    if (this.opts.logCommands) this.logCommand(name, dbName, cmd, sequences);
    const ctx = { conn, sequences, name, changeStream: false, getMore: name === 'getMore' };
    let fp = null;
    try {
      if (opts.opQuery && !['isMaster', 'ismaster', 'hello'].includes(name)) {
        throw new CommandError(352, `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal`);
      }
      if (typeof dbName !== 'string' || dbName.length === 0) throw new CommandError(40571, 'OP_MSG requests require a $db argument');
      if (conn && (name === 'isMaster' || name === 'ismaster' || name === 'hello') && isPlainObject(cmd.client)
        && isPlainObject(cmd.client.application) && typeof cmd.client.application.name === 'string') {
        conn.appName = cmd.client.application.name;
      }
      fp = this.checkFailpoint(name, conn);
    } catch (e) {
      return this.complete(this.errorToReply(e, name, cmd, ctx), ctx, opts);
    }
    if (fp && fp.blockConnection === true) {
      return sleep(num(fp.blockTimeMS, 0)).then(() => this.run(name, cmd, dbName, ctx, opts, fp));
    }
    return this.run(name, cmd, dbName, ctx, opts, fp);
  }

  run(name, cmd, dbName, ctx, opts, fp) {
    let wce = null;
    if (fp) {
      if (fp.closeConnection === true) return { close: true };
      if (fp.errorCode !== undefined) {
        const code = num(fp.errorCode);
        const r = errorReply(code, "Failing command via 'failCommand' failpoint");
        if (fp.errorLabels !== undefined) r.errorLabels = fp.errorLabels;
        else {
          ctx.changeStream = this.isChangeStreamCommand(name, cmd, dbName);
          ctx.retryableWrite = WRITE_COMMANDS.has(name) && cmd.txnNumber !== undefined;
          const labels = labelsFor(code, ctx);
          if (labels.length) r.errorLabels = labels;
        }
        return this.complete(r, ctx, opts);
      }
      if (fp.writeConcernError !== undefined) wce = fp.writeConcernError;
    }
    let reply;
    let retryKey = null;
    try {
      checkCollation(cmd.collation);
      retryKey = this.retryKey(name, cmd);
      if (retryKey) this.checkTxnNumber(cmd);
      if (retryKey && this.retryCache.has(retryKey)) {
        reply = this.retryCache.get(retryKey);
      } else {
        reply = this.dispatch(name, cmd, dbName, ctx);
      }
    } catch (e) {
      return this.complete(this.errorToReply(e, name, cmd, ctx), ctx, opts);
    }
    const done = (r) => {
      if (retryKey && r && r.ok === 1 && !this.retryCache.has(retryKey)) {
        this.retryCache.set(retryKey, r);
        if (this.retryCache.size > RETRY_CACHE_MAX) this.retryCache.delete(this.retryCache.keys().next().value);
      }
      if (wce && r && !r.__parts) r = { ...r, writeConcernError: wce };
      return this.complete(r, ctx, opts);
    };
    if (reply && typeof reply.then === 'function') {
      return reply.then(done, (e) => this.complete(this.errorToReply(e, name, cmd, ctx), ctx, opts));
    }
    return done(reply);
  }

  errorToReply(e, name, cmd, ctx) {
    if (!(e instanceof CommandError)) {
      this.log.error(`command ${name} failed: ${e && e.stack ? e.stack : e}`);
      e = new CommandError(1, String(e && e.message ? e.message : e));
    }
    const r = errorReply(e.code, e.message, e.extra);
    ctx.retryableWrite = WRITE_COMMANDS.has(name) && cmd.txnNumber !== undefined;
    const labels = labelsFor(e.code, ctx);
    if (labels.length) r.errorLabels = labels;
    return r;
  }

  complete(reply, ctx, opts) {
    // Persist before answering: an acknowledged write survives a kill -9.
    if (this.persister) this.persister.flush();
    if (opts.moreToCome) return { noReply: true };
    return { reply: this.finish(reply, opts.opQuery), after: ctx.after };
  }

  isChangeStreamCommand(name, cmd, dbName) {
    if (name === 'aggregate') {
      return Array.isArray(cmd.pipeline) && isPlainObject(cmd.pipeline[0]) && '$changeStream' in cmd.pipeline[0];
    }
    if (name === 'getMore') {
      const cur = this.cursors.get(String(Long.fromValue(cmd.getMore)));
      return !!(cur && cur.kind === 'change');
    }
    return false;
  }

  // mongod refuses a retryable write older than the newest one seen on the session.
  checkTxnNumber(cmd) {
    const id = cmd.lsid.id;
    const sid = id && id.buffer ? Buffer.from(id.buffer).toString('hex') : String(id);
    const txn = BigInt(Long.fromValue(cmd.txnNumber).toString());
    const seen = this.sessionTxn.get(sid);
    if (seen !== undefined && txn < seen) {
      throw new CommandError(225, `Retryable write with txnNumber ${txn} is prohibited on session ${sid} because a newer retryable write with txnNumber ${seen} has already started on this session.`);
    }
    if (seen === undefined || txn > seen) {
      this.sessionTxn.delete(sid);
      this.sessionTxn.set(sid, txn);
      if (this.sessionTxn.size > RETRY_CACHE_MAX) this.sessionTxn.delete(this.sessionTxn.keys().next().value);
    }
  }

  retryKey(name, cmd) {
    if (!WRITE_COMMANDS.has(name) || cmd.txnNumber === undefined || !isPlainObject(cmd.lsid)) return null;
    const id = cmd.lsid.id;
    const idHex = id && id.buffer ? Buffer.from(id.buffer).toString('hex') : String(id);
    return `${idHex}:${Long.fromValue(cmd.txnNumber).toString()}`;
  }

  // $clusterTime/operationTime as mongod adds them to every reply; the encoded tail is
  // reused while the cluster time stands still.
  clusterTail() {
    const ts = this.clock.current();
    if (!this.tailCache || this.tailCache.t !== ts.t || this.tailCache.i !== ts.i) {
      this.tailCache = {
        t: ts.t,
        i: ts.i,
        bytes: elementsOf({
          $clusterTime: { clusterTime: ts, signature: { hash: new Binary(Buffer.alloc(20), 0), keyId: Long.fromNumber(0) } },
          operationTime: ts,
        }),
      };
    }
    return this.tailCache.bytes;
  }

  finish(reply, opQuery) {
    const parts = reply.__parts ? reply.__parts : [reply];
    return buildDoc(opQuery ? parts : [...parts, { __raw: this.clusterTail() }]);
  }

  logCommand(name, dbName, cmd, sequences) {
    let summary = '';
    const v = cmd[name];
    if (typeof v === 'string') summary = ` coll=${v}`;
    if (name === 'getMore') summary = ` cursor=${String(v)} coll=${cmd.collection}`;
    for (const k of ['filter', 'q', 'query', 'pipeline']) {
      if (cmd[k] !== undefined) {
        let s = JSON.stringify(BSON.EJSON.serialize(cmd[k], { relaxed: true }));
        if (s.length > 200) s = s.slice(0, 197) + '...';
        summary += ` ${k}=${s}`;
      }
    }
    const seq = Object.entries(sequences || {}).map(([k, d]) => ` ${k}=[${d.length} docs]`).join('');
    process.stderr.write(`cmd ${name} db=${dbName}${summary}${seq}\n`);
  }

  dispatch(name, cmd, dbName, ctx) {
    const h = HANDLERS[name];
    if (!h) throw new CommandError(59, `no such command: '${name}'`);
    return h.call(this, cmd, dbName, ctx);
  }
}

// ---------------------------------------------------------------------------
// handlers: `this` is the Engine

const HANDLERS = {};

function helloReply(engine, cmd, legacy) {
  const r = {};
  if (cmd.helloOk === true) r.helloOk = true;
  if (legacy) r.ismaster = true;
  else r.isWritablePrimary = true;
  const me = engine.me();
  const ts = engine.clock.current();
  Object.assign(r, {
    topologyVersion: undefined,
    hosts: [me],
    setName: engine.replset,
    setVersion: 1,
    secondary: false,
    primary: me,
    me,
    electionId: engine.electionId,
    lastWrite: {
      opTime: { ts, t: Long.fromNumber(1) }, lastWriteDate: new Date(ts.t * 1000),
      majorityOpTime: { ts, t: Long.fromNumber(1) }, majorityWriteDate: new Date(ts.t * 1000),
    },
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48000000,
    maxWriteBatchSize: 100000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: 0,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  });
  delete r.topologyVersion;
  return r;
}

HANDLERS.hello = function (cmd, db, ctx) {
  const r = helloReply(this, cmd, false);
  r.connectionId = ctx.conn ? ctx.conn.id : 0;
  return r;
};
HANDLERS.isMaster = function (cmd, db, ctx) {
  const r = helloReply(this, cmd, true);
  r.connectionId = ctx.conn ? ctx.conn.id : 0;
  return r;
};
HANDLERS.ismaster = HANDLERS.isMaster;

HANDLERS.ping = () => ({ ok: 1 });

HANDLERS.buildInfo = () => ({
  version: '7.0.0',
  gitVersion: '0000000000000000000000000000000000000000',
  modules: [],
  allocator: 'system',
  javascriptEngine: 'none',
  sysInfo: 'deprecated',
  versionArray: [new Int32(7), new Int32(0), new Int32(0), new Int32(0)],
  openssl: { running: 'disabled', compiled: 'disabled' },
  buildEnvironment: { distmod: 'ticketsync-mongo-test-server', target_os: 'linux' },
  bits: 64,
  debug: false,
  maxBsonObjectSize: 16 * 1024 * 1024,
  storageEngines: ['ticketsync-test-memory'],
  ok: 1,
});
HANDLERS.buildinfo = HANDLERS.buildInfo;

HANDLERS.getParameter = function (cmd) {
  const r = {};
  const all = {
    featureCompatibilityVersion: { version: '7.0' },
    changeStreamOptions: { preAndPostImages: { expireAfterSeconds: 'off' } },
    ttlMonitorSleepSecs: this.ttlSleepSecs,
  };
  if (cmd.getParameter === '*' || (isPlainObject(cmd.getParameter) && cmd.getParameter.allParameters)) {
    Object.assign(r, all);
  } else {
    for (const k of Object.keys(cmd)) if (k in all) r[k] = all[k];
  }
  r.ok = 1;
  return r;
};

HANDLERS.setParameter = function (cmd, dbName) {
  if (dbName !== 'admin') throw new CommandError(13, 'setParameter may only be run against the admin database.');
  const r = {};
  for (const [k, v] of Object.entries(cmd)) {
    if (k === 'setParameter' || k.startsWith('$') || k === 'lsid' || k === 'comment') continue;
    if (k !== 'ttlMonitorSleepSecs') {
      throw new CommandError(2, `attempted to set unrecognized parameter [${k}], use help:true to see options `);
    }
    const n = num(v);
    if (!(n >= 1)) throw new CommandError(2, 'ttlMonitorSleepSecs must be >= 1');
    r.was = this.ttlSleepSecs;
    this.ttlSleepSecs = n;
    this.startTtlMonitor();
  }
  r.ok = 1;
  return r;
};

HANDLERS.serverStatus = function () {
  return {
    host: this.me(),
    version: '7.0.0',
    process: 'mongod',
    pid: Long.fromNumber(process.pid),
    uptime: (Date.now() - this.startTime) / 1000,
    uptimeMillis: Long.fromNumber(Date.now() - this.startTime),
    localTime: new Date(),
    connections: { current: new Int32(this.connections.size), available: new Int32(1000), totalCreated: new Int32(this.connectionCounter) },
    repl: { setName: this.replset, isWritablePrimary: true, secondary: false, hosts: [this.me()], primary: this.me(), me: this.me() },
    storageEngine: { name: 'ticketsync-test-memory', persistent: !!this.persister },
    ok: 1,
  };
};

HANDLERS.replSetGetStatus = function () {
  const ts = this.clock.current();
  const optime = { ts, t: Long.fromNumber(1) };
  return {
    set: this.replset,
    date: new Date(),
    myState: 1,
    term: Long.fromNumber(1),
    heartbeatIntervalMillis: Long.fromNumber(2000),
    optimes: { lastCommittedOpTime: optime, appliedOpTime: optime, durableOpTime: optime },
    members: [{
      _id: 0, name: this.me(), health: 1, state: 1, stateStr: 'PRIMARY',
      uptime: Math.floor((Date.now() - this.startTime) / 1000), optime, optimeDate: new Date(ts.t * 1000),
      syncSourceHost: '', syncSourceId: -1, infoMessage: '', electionTime: ts,
      electionDate: new Date(this.startTime), configVersion: 1, configTerm: 1, self: true, lastHeartbeatMessage: '',
    }],
    ok: 1,
  };
};

HANDLERS.endSessions = () => ({ ok: 1 });
HANDLERS.refreshSessions = () => ({ ok: 1 });
HANDLERS.killAllSessions = () => ({ ok: 1 });
HANDLERS.whatsmyuri = (cmd, db, ctx) => ({ you: ctx.conn ? ctx.conn.remote : '', ok: 1 });
HANDLERS.connectionStatus = () => ({ authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }, ok: 1 });
HANDLERS.hostInfo = () => ({ system: { currentTime: new Date(), hostname: require('os').hostname(), numCores: require('os').cpus().length }, os: { type: 'Linux' }, ok: 1 });
HANDLERS.getCmdLineOpts = () => ({ argv: process.argv, parsed: {}, ok: 1 });
HANDLERS.listCommands = () => ({ commands: Object.fromEntries(Object.keys(HANDLERS).map((k) => [k, { help: '' }])), ok: 1 });

for (const t of ['startTransaction', 'commitTransaction', 'abortTransaction']) {
  HANDLERS[t] = () => {
    throw new CommandError(115, `${t} is not supported by the ticketsync MongoDB test server (no multi-document transactions)`);
  };
}

HANDLERS.killCursors = function (cmd, dbName) {
  const coll = collName(cmd, 'killCursors');
  if (!Array.isArray(cmd.cursors)) throw new CommandError(14, "BSON field 'killCursors.cursors' is missing but a required field");
  const killed = [];
  const notFound = [];
  for (const id of cmd.cursors) {
    const key = Long.fromValue(id).toString();
    const cur = this.cursors.get(key);
    if (cur && (cur.ns === `${dbName}.${coll}`)) {
      this.cursors.delete(key);
      cur.killed = true;
      if (cur.wake) cur.wake();
      killed.push(id);
    } else notFound.push(id);
  }
  return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
};

// ---- databases and collections ----

function dbSize(d) {
  let size = 0;
  for (const c of d.collections.values()) for (const r of c.docs.values()) size += r.bytes.length;
  return size;
}

HANDLERS.listDatabases = function (cmd, dbName) {
  if (dbName !== 'admin') throw new CommandError(13, 'listDatabases may only be run against the admin database.');
  let list = [...this.store.dbs.values()].map((d) => ({ name: d.name, sizeOnDisk: Long.fromNumber(dbSize(d)), empty: false }));
  if (cmd.filter !== undefined) {
    const f = compileFilterRaw(cmd.filter);
    list = list.filter((x) => f.test(promote(x), x));
  }
  if (cmd.nameOnly === true) return { databases: list.map((x) => ({ name: x.name })), ok: 1 };
  const total = list.reduce((a, x) => a + x.sizeOnDisk.toNumber(), 0);
  return { databases: list, totalSize: Long.fromNumber(total), totalSizeMb: Long.fromNumber(Math.floor(total / 1048576)), ok: 1 };
};

HANDLERS.dropDatabase = function (cmd, dbName) {
  const d = this.store.db(dbName, false);
  if (d) {
    for (const name of [...d.collections.keys()]) {
      this.store.dropCollection(dbName, name);
      this.persist(record.dropColl(dbName, name));
      this.ddlEvent('drop', dbName, name);
    }
    this.ddlEvent('dropDatabase', dbName);
  }
  return { dropped: dbName, ok: 1 };
};

HANDLERS.listCollections = function (cmd, dbName) {
  const d = this.store.db(dbName, false);
  let infos = d ? [...d.collections.values()].map((c) => c.infoDoc()) : [];
  if (cmd.filter !== undefined) {
    const f = compileFilterRaw(cmd.filter);
    infos = infos.filter((x) => f.test(promote(x), x));
  }
  if (cmd.nameOnly === true) infos = infos.map((x) => ({ name: x.name, type: x.type }));
  return this.cursorReply('firstBatch', infos.map(serialize), Long.fromNumber(0), `${dbName}.$cmd.listCollections`);
};

const CREATE_OPTIONS = new Set(['validator', 'validationLevel', 'validationAction', 'changeStreamPreAndPostImages']);
const IGNORED_OPTIONS = new Set(['writeConcern', 'lsid', '$db', '$clusterTime', '$readPreference', 'txnNumber', 'comment', 'collation', 'storageEngine', 'indexOptionDefaults', 'maxTimeMS', 'apiVersion', 'apiStrict', 'apiDeprecationErrors', 'autocommit', 'startTransaction', 'readConcern']);

HANDLERS.create = function (cmd, dbName) {
  const name = collName(cmd, 'create');
  for (const k of Object.keys(cmd)) {
    if (k === 'create' || CREATE_OPTIONS.has(k) || IGNORED_OPTIONS.has(k)) continue;
    if (['capped', 'size', 'max', 'viewOn', 'pipeline', 'timeseries', 'clusteredIndex', 'expireAfterSeconds', 'encryptedFields'].includes(k)) {
      throw new CommandError(115, `create option '${k}' is not supported by the ticketsync MongoDB test server`);
    }
    throw new CommandError(40415, `BSON field 'create.${k}' is an unknown field.`);
  }
  const existing = this.store.coll(dbName, name, false);
  const opts = {};
  for (const k of CREATE_OPTIONS) if (cmd[k] !== undefined) opts[k] = cmd[k];
  if (existing) {
    const cur = existing.options;
    const same = Object.keys(opts).every((k) => cur[k] !== undefined && equals(cur[k], opts[k]) && typeName(cur[k]) === typeName(opts[k]))
      && Object.keys(cur).filter((k) => !(k === 'validationLevel' && cur[k] === 'strict') && !(k === 'validationAction' && cur[k] === 'error')).every((k) => opts[k] !== undefined);
    if (same) return { ok: 1 };
    throw new CommandError(48, `Collection ${dbName}.${name} already exists.`);
  }
  // Validate options before creating anything.
  const probe = new Collection({ name: dbName, store: this.store }, name, opts);
  const c = this.store.coll(dbName, name, true);
  c.setOptions(probe.options);
  this.persist(record.collMod(c));
  return { ok: 1 };
};

HANDLERS.collMod = function (cmd, dbName) {
  const name = collName(cmd, 'collMod');
  const c = this.store.coll(dbName, name, false);
  if (!c) throw new CommandError(26, `ns does not exist: ${dbName}.${name}`);
  const opts = {};
  for (const k of Object.keys(cmd)) {
    if (k === 'collMod' || IGNORED_OPTIONS.has(k)) continue;
    if (!CREATE_OPTIONS.has(k)) {
      if (k === 'index') throw new CommandError(115, "collMod 'index' is not supported by the ticketsync MongoDB test server");
      throw new CommandError(40415, `BSON field 'collMod.${k}' is an unknown field.`);
    }
    opts[k] = cmd[k];
  }
  c.setOptions(opts);
  this.persist(record.collMod(c));
  return { ok: 1 };
};

HANDLERS.drop = function (cmd, dbName) {
  const name = collName(cmd, 'drop');
  const c = this.store.dropCollection(dbName, name);
  if (!c) return { ok: 1 }; // MongoDB 7.0: dropping a missing collection succeeds
  this.persist(record.dropColl(dbName, name));
  this.ddlEvent('drop', dbName, name);
  return { nIndexesWas: 1 + c.indexes.size, ns: `${dbName}.${name}`, ok: 1 };
};

HANDLERS.createIndexes = function (cmd, dbName) {
  const name = collName(cmd, 'createIndexes');
  if (!Array.isArray(cmd.indexes) || cmd.indexes.length === 0) {
    throw new CommandError(2, 'Must specify at least one index to create');
  }
  const existed = !!this.store.coll(dbName, name, false);
  const c = this.store.coll(dbName, name, true);
  const before = 1 + c.indexes.size;
  let created = 0;
  for (const spec of cmd.indexes) {
    if (isPlainObject(spec)) checkCollation(spec.collation);
    if (!isPlainObject(spec) || typeof spec.name !== 'string') {
      throw new CommandError(9, "Error in specification { key: ... } :: caused by :: The 'name' field is a required property of an index specification");
    }
    if (c.createIndex(spec)) {
      created++;
      this.persist(record.createIndex(c, c.indexes.get(spec.name).spec));
    }
  }
  const r = { numIndexesBefore: before, numIndexesAfter: 1 + c.indexes.size, createdCollectionAutomatically: !existed };
  if (created === 0) r.note = 'all indexes already exist';
  r.ok = 1;
  return r;
};

HANDLERS.listIndexes = function (cmd, dbName) {
  const name = collName(cmd, 'listIndexes');
  const c = this.store.coll(dbName, name, false);
  if (!c) throw new CommandError(26, `ns does not exist: ${dbName}.${name}`);
  return this.cursorReply('firstBatch', c.indexSpecs().map(serialize), Long.fromNumber(0), `${dbName}.${name}`);
};

HANDLERS.dropIndexes = function (cmd, dbName) {
  const name = collName(cmd, 'dropIndexes');
  const c = this.store.coll(dbName, name, false);
  if (!c) throw new CommandError(26, `ns not found ${dbName}.${name}`);
  const was = 1 + c.indexes.size;
  const target = cmd.index;
  let names;
  if (target === '*') names = [...c.indexes.keys()];
  else if (typeof target === 'string') names = [target];
  else if (Array.isArray(target)) names = target;
  else if (isPlainObject(target)) {
    const n = c.findIndexByKey(target);
    if (!n) throw new CommandError(27, `can't find index with key: ${JSON.stringify(promote(target))}`);
    names = [n];
  } else throw new CommandError(14, "BSON field 'dropIndexes.index' is missing but a required field");
  for (const n of names) if (n !== '_id_' && !c.indexes.has(n)) throw new CommandError(27, `index not found with name [${n}]`);
  for (const n of names) {
    c.dropIndex(n);
    this.persist(record.dropIndex(c, n));
  }
  return { nIndexesWas: was, ok: 1 };
};
HANDLERS.deleteIndexes = HANDLERS.dropIndexes;

HANDLERS.dbStats = function (cmd, dbName) {
  const d = this.store.db(dbName, false);
  let objects = 0;
  let indexes = 0;
  if (d) for (const c of d.collections.values()) { objects += c.docs.size; indexes += 1 + c.indexes.size; }
  return { db: dbName, collections: d ? d.collections.size : 0, views: 0, objects, dataSize: d ? dbSize(d) : 0, indexes, ok: 1 };
};

// ---- writes ----

function docsOf(cmd, ctx, field) {
  if (ctx.sequences && ctx.sequences[field]) return ctx.sequences[field];
  const v = cmd[field];
  if (!Array.isArray(v)) throw new CommandError(14, `BSON field '${ctx.name}.${field}' is missing but a required field`);
  return v;
}

function checkBatch(list) {
  if (list.length < 1 || list.length > 100000) {
    throw new CommandError(16, `Write batch sizes must be between 1 and 100000. Got ${list.length} operations.`);
  }
}

HANDLERS.insert = function (cmd, dbName, ctx) {
  const name = collName(cmd, 'insert');
  const docs = docsOf(cmd, ctx, 'documents');
  checkBatch(docs);
  const ordered = cmd.ordered !== false;
  const bypass = cmd.bypassDocumentValidation === true;
  const c = this.store.coll(dbName, name, true);
  let n = 0;
  const errors = [];
  for (let i = 0; i < docs.length; i++) {
    try {
      const d = docs[i];
      if (Buffer.isBuffer(d)) c.insert(toRaw(d), d, bypass);
      else if (isPlainObject(d)) c.insert(d, null, bypass);
      else throw new CommandError(14, 'insert documents must be objects');
      n++;
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      errors.push(writeError(i, e));
      if (ordered) break;
    }
  }
  const r = { n };
  if (errors.length) r.writeErrors = errors;
  r.ok = 1;
  return r;
};

function statementsOf(cmd, ctx, field) {
  return docsOf(cmd, ctx, field).map((d) => (Buffer.isBuffer(d) ? toRaw(d) : d));
}

function upsertDoc(q, u, kind, parsed) {
  const seed = update.upsertSeed(q);
  if (kind === 'replacement') {
    const out = {};
    if (u._id === undefined && seed._id !== undefined) out._id = seed._id;
    return Object.assign(out, u);
  }
  return update.apply(seed, u, true, parsed);
}

HANDLERS.update = function (cmd, dbName, ctx) {
  const name = collName(cmd, 'update');
  const stmts = statementsOf(cmd, ctx, 'updates');
  checkBatch(stmts);
  const ordered = cmd.ordered !== false;
  const bypass = cmd.bypassDocumentValidation === true;
  let c = this.store.coll(dbName, name, false);
  let n = 0;
  let nModified = 0;
  const upserted = [];
  const errors = [];
  for (let i = 0; i < stmts.length; i++) {
    const s = stmts[i];
    try {
      if (!isPlainObject(s) || s.q === undefined || s.u === undefined) {
        throw new CommandError(40414, "BSON field 'update.updates.q' is missing but a required field");
      }
      if (Array.isArray(s.arrayFilters) && s.arrayFilters.length) {
        throw new CommandError(2, 'arrayFilters are not supported by the ticketsync MongoDB test server');
      }
      checkCollation(s.collation);
      const kind = update.kind(s.u);
      if (s.multi === true && kind === 'replacement') throw new CommandError(9, 'multi update is not supported for replacement-style update');
      const parsed = kind === 'operators' ? update.parseOperators(s.u) : null;
      const filter = compileFilterRaw(s.q);
      let recs = c ? c.match(filter) : [];
      if (s.multi !== true) recs = recs.slice(0, 1);
      if (recs.length === 0 && s.upsert === true) {
        const doc = upsertDoc(s.q, s.u, kind, parsed);
        c = this.store.coll(dbName, name, true);
        const rec = c.insert(doc, null, bypass);
        n++;
        upserted.push({ index: i, _id: rec.id });
        continue;
      }
      for (const rec of recs) {
        const next = update.apply(rec.raw, s.u, false, parsed);
        n++;
        if (c.replace(rec, next, { bypass, replacement: kind === 'replacement' })) nModified++;
      }
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      errors.push(writeError(i, e));
      if (ordered) break;
    }
  }
  const r = { n };
  if (upserted.length) r.upserted = upserted;
  r.nModified = nModified;
  if (errors.length) r.writeErrors = errors;
  r.ok = 1;
  return r;
};

HANDLERS.delete = function (cmd, dbName, ctx) {
  const name = collName(cmd, 'delete');
  const stmts = statementsOf(cmd, ctx, 'deletes');
  checkBatch(stmts);
  const ordered = cmd.ordered !== false;
  const c = this.store.coll(dbName, name, false);
  let n = 0;
  const errors = [];
  for (let i = 0; i < stmts.length; i++) {
    const s = stmts[i];
    try {
      if (!isPlainObject(s) || s.q === undefined || s.limit === undefined) {
        throw new CommandError(40414, "BSON field 'delete.deletes.limit' is missing but a required field");
      }
      checkCollation(s.collation);
      const limit = num(s.limit);
      if (limit !== 0 && limit !== 1) throw new CommandError(9, `The limit field in delete objects must be 0 or 1. Got ${limit}`);
      const filter = compileFilterRaw(s.q);
      let recs = c ? c.match(filter) : [];
      if (limit === 1) recs = recs.slice(0, 1);
      for (const rec of recs) {
        c.remove(rec);
        n++;
      }
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      errors.push(writeError(i, e));
      if (ordered) break;
    }
  }
  const r = { n };
  if (errors.length) r.writeErrors = errors;
  r.ok = 1;
  return r;
};

HANDLERS.findAndModify = function (cmd, dbName) {
  const name = collName(cmd, Object.keys(cmd)[0]);
  const remove = cmd.remove === true;
  const hasUpdate = cmd.update !== undefined;
  if (remove && hasUpdate) throw new CommandError(9, 'Cannot specify both an update and remove=true');
  if (!remove && !hasUpdate) throw new CommandError(9, 'Either an update or remove=true must be specified');
  if (remove && cmd.upsert === true) throw new CommandError(9, 'Cannot specify both upsert=true and remove=true ');
  if (remove && cmd.new === true) throw new CommandError(9, "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document");
  if (Array.isArray(cmd.arrayFilters) && cmd.arrayFilters.length) {
    throw new CommandError(2, 'arrayFilters are not supported by the ticketsync MongoDB test server');
  }
  const bypass = cmd.bypassDocumentValidation === true;
  const proj = compileProjection(cmd.fields);
  const out = (bytes) => (bytes === null ? null : proj ? proj(toRaw(bytes)) : toRaw(bytes));
  const filter = compileFilterRaw(cmd.query || {});
  let c = this.store.coll(dbName, name, false);
  const sortKeys = parseSort(cmd.sort);
  let recs = c ? (c.orderedMatches(filter, sortKeys, 1) || c.match(filter)) : [];
  recs = sortRecords(recs, sortKeys, (r) => r.raw, 1);
  const rec = recs[0] || null;
  if (remove) {
    if (!rec) return { lastErrorObject: { n: 0 }, value: null, ok: 1 };
    const bytes = rec.bytes;
    c.remove(rec);
    return { lastErrorObject: { n: 1 }, value: out(bytes), ok: 1 };
  }
  const kind = update.kind(cmd.update);
  const parsed = kind === 'operators' ? update.parseOperators(cmd.update) : null;
  if (rec) {
    const before = rec.bytes;
    const next = update.apply(rec.raw, cmd.update, false, parsed);
    c.replace(rec, next, { bypass, replacement: kind === 'replacement' });
    return { lastErrorObject: { n: 1, updatedExisting: true }, value: out(cmd.new === true ? rec.bytes : before), ok: 1 };
  }
  if (cmd.upsert === true) {
    const doc = upsertDoc(cmd.query || {}, cmd.update, kind, parsed);
    c = this.store.coll(dbName, name, true);
    const r = c.insert(doc, null, bypass);
    return { lastErrorObject: { n: 1, updatedExisting: false, upserted: r.id }, value: cmd.new === true ? out(r.bytes) : null, ok: 1 };
  }
  return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
};
HANDLERS.findandmodify = HANDLERS.findAndModify;

// ---- reads ----

function checkHint(c, hint) {
  if (hint === undefined || !c) return;
  if (typeof hint === 'string') {
    if (hint !== '_id_' && !c.indexes.has(hint)) throw new CommandError(2, 'error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index');
  } else if (isPlainObject(hint) && Object.keys(hint).length && !('$natural' in hint)) {
    if (!c.findIndexByKey(hint)) throw new CommandError(2, 'error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index');
  }
}

function nonNegative(v, what) {
  const n = num(v, 0);
  if (n < 0) throw new CommandError(51024, `BSON field '${what}' value must be >= 0, actual value '${n}'`);
  return n;
}

HANDLERS.find = function (cmd, dbName) {
  const name = collName(cmd, 'find');
  if (cmd.tailable === true) throw new CommandError(2, 'error processing query: tailable cursor requested on non capped collection');
  const c = this.store.coll(dbName, name, false);
  checkHint(c, cmd.hint);
  const filter = compileFilterRaw(cmd.filter || {});
  const sortKeys = parseSort(cmd.sort);
  const proj = compileProjection(cmd.projection);
  const skip = nonNegative(cmd.skip, 'skip');
  const limit = nonNegative(cmd.limit, 'limit');
  const batchSize = cmd.batchSize === undefined ? 101 : nonNegative(cmd.batchSize, 'batchSize');
  let recs = c ? (c.orderedMatches(filter, sortKeys, limit ? skip + limit : 0) || c.match(filter)) : [];
  recs = sortRecords(recs, sortKeys, (r) => r.raw, limit ? skip + limit : 0); // raw: exact int64 order
  if (skip || limit) recs = recs.slice(skip, limit ? skip + limit : undefined);
  const cur = { kind: 'find', ns: `${dbName}.${name}`, items: recs.map((r) => r.bytes), pos: 0, proj, noTimeout: cmd.noCursorTimeout === true };
  const first = this.takeBatch(cur, cmd.singleBatch === true ? Math.max(batchSize, limit || Infinity) : (batchSize === 0 ? 0 : batchSize));
  const done = cmd.singleBatch === true || cur.pos >= cur.items.length;
  const id = done ? Long.fromNumber(0) : this.registerCursor(cur);
  return this.cursorReply('firstBatch', first, id, cur.ns);
};

HANDLERS.getMore = function (cmd, dbName, ctx) {
  const idv = cmd.getMore;
  if (typeName(idv) !== 'long') throw new CommandError(14, `BSON field 'getMore.getMore' is the wrong type '${typeName(idv)}', expected type 'long'`);
  const coll = collName(cmd, 'collection');
  const key = Long.fromValue(idv).toString();
  const cur = this.cursors.get(key);
  if (!cur) throw new CommandError(43, `cursor id ${key} not found`);
  const ns = `${dbName}.${coll}`;
  if (cur.ns !== ns) {
    throw new CommandError(13, `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${cur.ns}`);
  }
  if (cur.busy) throw new CommandError(292, `Cursor with id ${key} is already in use`);
  const batchSize = cmd.batchSize === undefined ? Infinity : (num(cmd.batchSize) <= 0 ? Infinity : num(cmd.batchSize));
  cur.lastUsed = Date.now();
  if (cur.kind === 'change') {
    ctx.changeStream = true;
    return this.changeStreamGetMore(cur, batchSize, num(cmd.maxTimeMS, 1000), ctx);
  }
  const docs = this.takeBatch(cur, batchSize);
  const done = cur.pos >= cur.items.length;
  if (done) this.cursors.delete(key);
  return this.cursorReply('nextBatch', docs, done ? Long.fromNumber(0) : Long.fromValue(idv), cur.ns);
};

HANDLERS.count = function (cmd, dbName) {
  const name = collName(cmd, 'count');
  const c = this.store.coll(dbName, name, false);
  checkHint(c, cmd.hint);
  const filter = compileFilterRaw(cmd.query || {});
  let n = c ? (filter.empty ? c.docs.size : c.match(filter).length) : 0;
  const skip = nonNegative(cmd.skip, 'skip');
  n = Math.max(0, n - skip);
  const limit = Math.abs(num(cmd.limit, 0));
  if (limit) n = Math.min(n, limit);
  return { n, ok: 1 };
};

HANDLERS.distinct = function (cmd, dbName) {
  const name = collName(cmd, 'distinct');
  if (typeof cmd.key !== 'string') throw new CommandError(14, "BSON field 'distinct.key' is missing but a required field");
  const c = this.store.coll(dbName, name, false);
  const filter = compileFilterRaw(cmd.query || {});
  const recs = c ? c.match(filter) : [];
  const parts = cmd.key.split('.');
  const values = [];
  const seen = new Set();
  for (const r of recs) {
    for (const v of valuesAtPath(r.raw, parts)) {
      const vals = Array.isArray(v) ? v : [v];
      for (const x of vals) {
        if (x === undefined) continue;
        const k = keyString(x);
        if (seen.has(k)) continue;
        seen.add(k);
        values.push(x);
      }
    }
  }
  values.sort(compare);
  return { values, ok: 1 };
};

// Pipelines that only filter, order and cut keep the stored bytes (and so every BSON
// type); anything else goes through mingo on promoted copies.
function isNativeStage(st) {
  const k = Object.keys(st)[0];
  return k === '$match' || k === '$sort' || k === '$skip' || k === '$limit';
}

function constantGroupCount(st) {
  if (Object.keys(st)[0] !== '$group') return null;
  const g = st.$group;
  if (!isPlainObject(g)) return null;
  const id = g._id;
  if (typeof id === 'string' && id.startsWith('$')) return null;
  if (isPlainObject(id) || Array.isArray(id)) return null;
  const accs = {};
  for (const [k, v] of Object.entries(g)) {
    if (k === '_id') continue;
    if (!isPlainObject(v) || Object.keys(v).length !== 1 || v.$sum === undefined || typeName(v.$sum) === 'string' || !isNumericLike(v.$sum)) return null;
    accs[k] = v.$sum;
  }
  return { id: id === undefined ? null : id, accs };
}

function isNumericLike(v) {
  const t = typeName(v);
  return t === 'int' || t === 'long' || t === 'double';
}

HANDLERS.aggregate = function (cmd, dbName, ctx) {
  const target = cmd.aggregate;
  if (!Array.isArray(cmd.pipeline)) throw new CommandError(14, "'pipeline' option must be specified as an array");
  if (cmd.explain === true) throw new CommandError(115, 'explain is not supported by the ticketsync MongoDB test server');
  if (!isPlainObject(cmd.cursor)) throw new CommandError(9, "The 'cursor' option is required, except for aggregate with the explain argument");
  const batchSize = cmd.cursor.batchSize === undefined ? 101 : nonNegative(cmd.cursor.batchSize, 'batchSize');
  const pipeline = cmd.pipeline;
  for (const st of pipeline) {
    if (!isPlainObject(st) || Object.keys(st).length !== 1) throw new CommandError(40323, 'A pipeline stage specification object must contain exactly one field.');
  }
  const collLevel = typeof target === 'string';
  if (!collLevel && !(isNumericLike(target) && numberValue(target) === 1)) {
    throw new CommandError(73, "Invalid {aggregate: ...} value: must be a collection name string or 1");
  }
  if (pipeline.length && '$changeStream' in pipeline[0]) {
    ctx.changeStream = true;
    const cs = new ChangeStream(this, dbName, collLevel ? target : null, pipeline[0].$changeStream, pipeline.slice(1));
    const { docs, pbrt } = cs.next(batchSize);
    const id = cs.closed ? Long.fromNumber(0) : this.registerCursor(cs);
    return this.cursorReply('firstBatch', docs, id, cs.ns, pbrt);
  }
  if (!collLevel) {
    const first = pipeline.length ? Object.keys(pipeline[0])[0] : 'empty';
    throw new CommandError(73, `{aggregate: 1} is not valid for '${first}'; a collection is required.`);
  }
  for (const st of pipeline) {
    const k = Object.keys(st)[0];
    if (k === '$changeStream') throw new CommandError(40602, '$changeStream is only valid as the first stage in a pipeline.');
    if (k === '$out' || k === '$merge') throw new CommandError(115, `${k} is not supported by the ticketsync MongoDB test server`);
  }
  const c = this.store.coll(dbName, target, false);
  checkHint(c, cmd.hint);
  let recs;
  let i = 0;
  if (pipeline.length && '$match' in pipeline[0]) {
    recs = c ? c.match(compileFilterRaw(pipeline[0].$match)) : [];
    i = 1;
  } else recs = c ? [...c.docs.values()] : [];
  // native prefix: $match/$sort/$skip/$limit
  for (; i < pipeline.length && isNativeStage(pipeline[i]); i++) {
    const [k, v] = Object.entries(pipeline[i])[0];
    if (k === '$match') {
      const f = compileFilterRaw(v);
      recs = recs.filter((r) => f.test(r.view, f.needsRaw ? r.raw : undefined));
    } else if (k === '$sort') recs = sortRecords(recs, parseSort(v), (r) => r.raw);
    else if (k === '$skip') recs = recs.slice(num(v));
    else recs = recs.slice(0, num(v));
  }
  let outDocs;
  if (i === pipeline.length) {
    outDocs = recs.map((r) => r.bytes);
  } else if (i === pipeline.length - 1 && constantGroupCount(pipeline[i])) {
    const g = constantGroupCount(pipeline[i]);
    if (recs.length === 0) outDocs = [];
    else {
      const doc = { _id: g.id };
      for (const [k, v] of Object.entries(g.accs)) doc[k] = fromJs(numberValue(v) * recs.length);
      outDocs = [serialize(doc)];
    }
  } else if (i === pipeline.length - 1 && '$count' in pipeline[i]) {
    const field = pipeline[i].$count;
    if (typeof field !== 'string' || field.length === 0 || field.startsWith('$') || field.includes('.')) {
      throw new CommandError(40157, 'the count field must be a non-empty string');
    }
    outDocs = recs.length ? [serialize({ [field]: new Int32(recs.length) })] : [];
  } else {
    const resolver = (name) => {
      const other = this.store.coll(dbName, name, false);
      return other ? [...other.docs.values()].map((r) => toView(r.bytes)) : [];
    };
    const views = recs.map((r) => toView(r.bytes));
    const res = aggregate(promote(pipeline.slice(i)), views, resolver);
    outDocs = res.map((d) => serialize(fromJs(d)));
  }
  const cur = { kind: 'agg', ns: `${dbName}.${target}`, items: outDocs, pos: 0, proj: null };
  const first = this.takeBatch(cur, batchSize);
  const done = cur.pos >= cur.items.length;
  const id = done ? Long.fromNumber(0) : this.registerCursor(cur);
  return this.cursorReply('firstBatch', first, id, cur.ns);
};

// ---- change stream getMore: hold the reply until an event or maxTimeMS ----

Engine.prototype.changeStreamGetMore = function (cs, batchSize, maxTimeMS, ctx) {
  const reply = (res) => this.cursorReply('nextBatch', res.docs, cs.closed ? Long.fromNumber(0) : Long.fromBigInt(cs.id), cs.ns, res.pbrt);
  const finishClose = () => {
    if (cs.closed) this.cursors.delete(cs.id.toString());
  };
  let res = cs.next(batchSize);
  if (res.docs.length || cs.closed || maxTimeMS <= 0) {
    finishClose();
    return reply(res);
  }
  cs.busy = true;
  return new Promise((resolve, reject) => {
    let timer = null;
    const done = (fn) => {
      clearTimeout(timer);
      this.history.listeners.delete(onEvent);
      if (ctx.conn) ctx.conn.waiters.delete(abort);
      cs.busy = false;
      cs.wake = null;
      cs.lastUsed = Date.now();
      fn();
    };
    const onEvent = () => {
      try {
        res = cs.next(batchSize);
      } catch (e) {
        done(() => reject(e));
        return;
      }
      if (res.docs.length || cs.closed) {
        done(() => {
          finishClose();
          resolve(reply(res));
        });
      }
    };
    const abort = () => done(() => resolve({ ok: 1 }));
    cs.wake = () => done(() => resolve(reply(cs.next(0))));
    this.history.listeners.add(onEvent);
    if (ctx.conn) ctx.conn.waiters.add(abort);
    timer = setTimeout(() => done(() => {
      try {
        resolve(reply(cs.next(batchSize)));
      } catch (e) {
        reject(e);
      }
    }), maxTimeMS);
  });
};

// ---- fault injection and test-only commands ----

HANDLERS.configureFailPoint = function (cmd, dbName) {
  if (dbName !== 'admin') throw new CommandError(13, 'configureFailPoint may only be run against the admin database.');
  const name = cmd.configureFailPoint;
  if (name !== 'failCommand') throw new CommandError(2, `Cannot find failpoint: ${name}`);
  const mode = cmd.mode;
  const prev = this.failpoint;
  const count = prev ? 1 : 0;
  if (mode === 'off') {
    this.failpoint = null;
    return { count, ok: 1 };
  }
  const data = cmd.data || {};
  if (!isPlainObject(data) || !Array.isArray(data.failCommands)) {
    throw new CommandError(2, "'data' must be an object with a 'failCommands' array");
  }
  const fp = { data, times: null, skip: 0 };
  if (mode === 'alwaysOn') fp.times = null;
  else if (isPlainObject(mode) && mode.times !== undefined) {
    fp.times = num(mode.times);
    if (fp.times <= 0) {
      this.failpoint = null;
      return { count, ok: 1 };
    }
  } else if (isPlainObject(mode) && mode.skip !== undefined) {
    fp.skip = num(mode.skip);
  } else {
    throw new CommandError(2, "'mode' must be one of 'off', 'alwaysOn', {times: n}, {skip: n}");
  }
  this.failpoint = fp;
  return { count, ok: 1 };
};

HANDLERS.ticketsyncTestDropConnections = function (cmd, dbName, ctx) {
  if (dbName !== 'admin') throw new CommandError(13, 'test commands may only be run against the admin database.');
  const n = this.connections.size;
  // After this reply is written: every connection, including this one, is closed.
  ctx.after = () => {
    for (const conn of [...this.connections]) conn.destroy();
  };
  return { closed: n, ok: 1 };
};

HANDLERS.ticketsyncTestSetHistoryLimit = function (cmd, dbName) {
  if (dbName !== 'admin') throw new CommandError(13, 'test commands may only be run against the admin database.');
  const n = num(cmd.ticketsyncTestSetHistoryLimit);
  if (!(n >= 1)) throw new CommandError(2, 'history limit must be >= 1');
  this.setHistoryLimit(n);
  return { limit: n, firstRetained: Long.fromNumber(this.history.firstSeq), ok: 1 };
};

HANDLERS.ticketsyncTestReset = function (cmd, dbName) {
  if (dbName !== 'admin') throw new CommandError(13, 'test commands may only be run against the admin database.');
  for (const d of [...this.store.dbs.keys()]) HANDLERS.dropDatabase.call(this, {}, d);
  this.failpoint = null;
  this.cursors.clear();
  return { ok: 1 };
};

module.exports = { Engine };
