'use strict';
// Change streams: a global history of committed writes (our oplog), resume tokens,
// and change stream cursors that read it.
//
// Every write gets a distinct cluster time (Timestamp) and a sequence number. A resume
// token encodes (clusterTime, seq, flags): resuming after token seq N returns events
// N+1, N+2, ... A high-water-mark token (flag HWM) marks a position reached while
// scanning, so a quiet or filtered stream can still checkpoint progress.

const {
  Timestamp, isPlainObject, typeName, compare, promote, toRaw, toView, buildDoc, fromJsKeeping,
  serialize, equals,
} = require('./bsonutil');
const { CommandError } = require('./errors');
const { compileFilter, aggregate } = require('./query');

const FLAG_INVALIDATE = 1;
const FLAG_HWM = 2;
const INTERNAL_DBS = new Set(['admin', 'config', 'local']);

class Clock {
  constructor() {
    this.t = 0;
    this.i = 0;
  }

  next() {
    const now = Math.floor(Date.now() / 1000);
    if (now > this.t) {
      this.t = now;
      this.i = 1;
    } else {
      this.i += 1;
    }
    return new Timestamp({ t: this.t, i: this.i });
  }

  current() {
    if (this.t === 0) return this.next();
    return new Timestamp({ t: this.t, i: this.i });
  }

  advanceTo(ts) {
    if (ts.t > this.t || (ts.t === this.t && ts.i > this.i)) {
      this.t = ts.t;
      this.i = ts.i;
    }
  }
}

function hex(n, width) {
  return n.toString(16).toUpperCase().padStart(width, '0');
}

function makeToken(ts, seq, flags) {
  return { _data: '82' + hex(ts.t, 8) + hex(ts.i, 8) + hex(seq, 16) + hex(flags, 2) };
}

function parseToken(tok) {
  const data = isPlainObject(tok) ? tok._data : undefined;
  if (typeof data !== 'string' || !/^82[0-9A-F]{34}$/.test(data)) {
    throw new CommandError(260, 'Bad resume token: _data of missing or of wrong type. Expected string, got ' +
      (data === undefined ? 'missing' : typeName(data)));
  }
  return {
    ts: new Timestamp({ t: parseInt(data.slice(2, 10), 16), i: parseInt(data.slice(10, 18), 16) }),
    seq: parseInt(data.slice(18, 34), 16),
    flags: parseInt(data.slice(34, 36), 16),
  };
}

class History {
  constructor(limit, clock) {
    this.limit = limit;
    this.clock = clock;
    // Retained events are buf[head..]; trimming moves head, and the dead prefix is
    // cut off only when it is large, so appending at the limit stays O(1).
    this.buf = [];
    this.head = 0;
    this.firstSeq = 1; // seq of the oldest retained event
    this.lastSeq = 0;
    this.trimmed = false;
    this.originTs = null; // nothing before this point was ever recorded here
    this.listeners = new Set();
    this.notifyScheduled = false;
  }

  start() {
    if (!this.originTs) this.originTs = this.clock.current();
  }

  get size() {
    return this.buf.length - this.head;
  }

  at(i) {
    return this.buf[this.head + i];
  }

  retained() {
    return this.buf.slice(this.head);
  }

  get(seq) {
    return seq >= this.firstSeq && seq <= this.lastSeq ? this.buf[this.head + seq - this.firstSeq] : null;
  }

  append(ev) {
    ev.seq = ++this.lastSeq;
    if (this.size === 0) this.firstSeq = ev.seq;
    this.buf.push(ev);
    this.trim();
    this.scheduleNotify();
    return ev;
  }

  // Replay: events keep the seq they had.
  load(ev) {
    if (this.size === 0) this.firstSeq = ev.seq;
    this.buf.push(ev);
    this.lastSeq = ev.seq;
    this.clock.advanceTo(ev.ts);
  }

  // Forget every retained event older than seq (replay of an earlier trim).
  dropBefore(seq) {
    while (this.size > 0 && this.at(0).seq < seq) this.dropOne();
    if (this.size === 0) this.firstSeq = Math.max(seq, this.lastSeq + 1);
    this.trimmed = true;
    this.compact();
  }

  setLimit(n) {
    this.limit = n;
    this.trim();
  }

  dropOne() {
    this.buf[this.head] = undefined;
    this.head += 1;
    this.firstSeq += 1;
  }

  trim() {
    if (this.size <= this.limit) return;
    while (this.size > this.limit) this.dropOne();
    this.trimmed = true;
    this.compact();
  }

  compact() {
    if (this.head > 1024 && this.head > this.buf.length / 2) {
      this.buf = this.buf.slice(this.head);
      this.head = 0;
    }
  }

  scheduleNotify() {
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    setImmediate(() => {
      this.notifyScheduled = false;
      for (const fn of [...this.listeners]) fn();
    });
  }

  lost(pos) {
    return this.trimmed && pos < this.firstSeq;
  }

  // Position (last seq already delivered) for a resume token.
  positionForToken(tok, kind) {
    const t = parseToken(tok);
    if (t.flags & FLAG_INVALIDATE && kind === 'resumeAfter') {
      throw new CommandError(260, 'Attempting to resume a change stream using \'resumeAfter\' is not allowed from an invalidate notification.');
    }
    const lostErr = () => new CommandError(286,
      'Resume of change stream was not possible, as the resume point may no longer be in the oplog.');
    if (this.originTs && compare(t.ts, this.originTs) < 0 && !(t.flags & FLAG_HWM && t.seq === 0)) throw lostErr();
    if (this.lost(t.seq)) throw lostErr();
    if (!(t.flags & FLAG_HWM) && t.seq > 0) {
      const ev = this.get(t.seq);
      if (ev && compare(ev.ts, t.ts) !== 0) throw lostErr();
      if (!ev && t.seq <= this.lastSeq) throw lostErr();
    }
    return { pos: Math.min(t.seq, this.lastSeq), afterInvalidate: !!(t.flags & FLAG_INVALIDATE) };
  }

  positionForTime(ts) {
    if (this.trimmed && this.size && compare(ts, this.at(0).ts) < 0) {
      throw new CommandError(286, 'Resume of change stream was not possible, as the resume point may no longer be in the oplog.');
    }
    if (this.trimmed && this.size === 0) {
      throw new CommandError(286, 'Resume of change stream was not possible, as the resume point may no longer be in the oplog.');
    }
    // binary search: last event with ts < T
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(this.at(mid).ts, ts) < 0) lo = mid + 1;
      else hi = mid;
    }
    return this.firstSeq + lo - 1;
  }
}

const ALLOWED_STAGES = new Set(['$match', '$project', '$addFields', '$set', '$unset', '$replaceRoot', '$replaceWith', '$redact']);
const CS_OPTIONS = new Set([
  'fullDocument', 'fullDocumentBeforeChange', 'resumeAfter', 'startAfter', 'startAtOperationTime',
  'allChangesForCluster', 'showExpandedEvents', 'allowToRunOnConfigDB', 'allowToRunOnSystemNS',
]);

class ChangeStream {
  // spec: the $changeStream stage's argument (raw). stages: the rest of the pipeline (raw).
  constructor(engine, dbName, collName, spec, stages) {
    this.engine = engine;
    this.history = engine.history;
    this.db = dbName;
    this.coll = collName; // null: database or cluster level
    this.kind = 'change';
    if (!isPlainObject(spec)) throw new CommandError(14, "the $changeStream stage must be an object");
    for (const k of Object.keys(spec)) {
      if (!CS_OPTIONS.has(k)) throw new CommandError(40415, `BSON field '$changeStream.${k}' is an unknown field.`);
    }
    this.cluster = spec.allChangesForCluster === true;
    if (this.cluster && (dbName !== 'admin' || collName !== null)) {
      throw new CommandError(40447, "A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, and with no collection name");
    }
    if (!this.cluster && dbName === 'admin' && collName === null) {
      throw new CommandError(73, "$changeStream may not be opened on the internal admin database");
    }
    if (!this.cluster && INTERNAL_DBS.has(dbName)) {
      throw new CommandError(73, `$changeStream may not be opened on the internal ${dbName} database`);
    }
    this.fullDocument = spec.fullDocument === undefined ? 'default' : spec.fullDocument;
    if (!['default', 'updateLookup', 'whenAvailable', 'required'].includes(this.fullDocument)) {
      throw new CommandError(2, `'${this.fullDocument}' is not a valid value for field 'fullDocument'`);
    }
    this.before = spec.fullDocumentBeforeChange === undefined ? 'off' : spec.fullDocumentBeforeChange;
    if (!['off', 'whenAvailable', 'required'].includes(this.before)) {
      throw new CommandError(2, `'${this.before}' is not a valid value for field 'fullDocumentBeforeChange'`);
    }
    const starts = ['resumeAfter', 'startAfter', 'startAtOperationTime'].filter((k) => spec[k] !== undefined);
    if (starts.length > 1) {
      throw new CommandError(40674, 'Only one type of resume option is allowed, but multiple were found.');
    }
    this.minTs = null;
    this.history.start();
    if (spec.resumeAfter !== undefined) {
      this.pos = this.history.positionForToken(spec.resumeAfter, 'resumeAfter').pos;
    } else if (spec.startAfter !== undefined) {
      this.pos = this.history.positionForToken(spec.startAfter, 'startAfter').pos;
    } else if (spec.startAtOperationTime !== undefined) {
      if (typeName(spec.startAtOperationTime) !== 'timestamp') {
        throw new CommandError(14, "BSON field '$changeStream.startAtOperationTime' is the wrong type, expected type 'timestamp'");
      }
      this.pos = this.history.positionForTime(spec.startAtOperationTime);
      this.minTs = spec.startAtOperationTime;
    } else {
      this.pos = this.history.lastSeq;
    }

    this.stagesRaw = stages;
    for (const st of stages) {
      const name = isPlainObject(st) ? Object.keys(st)[0] : undefined;
      if (name === '$changeStream') throw new CommandError(40602, '$changeStream is only valid as the first stage in a pipeline.');
      if (!ALLOWED_STAGES.has(name)) throw new CommandError(20, `${name} is not permitted in a $changeStream pipeline`);
    }
    this.matchOnly = stages.every((st) => Object.keys(st)[0] === '$match');
    this.prefilter = false;
    if (this.matchOnly) {
      const f = stages.length === 0 ? {} : stages.length === 1 ? promote(stages[0].$match) : { $and: stages.map((st) => promote(st.$match)) };
      this.filter = compileFilter(f);
      // A filter that reads only operationType and ns is decided on those two fields
      // before the event is built (most events of a database-wide stream are dropped
      // by such a filter). Not when rendering itself can fail (a required image).
      this.prefilter = !this.filter.empty && this.fullDocument !== 'required' && this.before !== 'required'
        && readsOnly(f, PREFILTER_FIELDS);
      // Its verdict is then a pure function of (operationType, db, coll), kept per
      // namespace, unless a regular expression could keep state between tests.
      this.prefilterCache = this.prefilter && !hasRegex(f) ? new Map() : null;
    } else {
      this.pipelineView = promote(stages);
      aggregate(this.pipelineView, []); // reject a bad stage now, not on the first event
    }
    this.pendingInvalidate = null;
    this.closed = false;
    this.lastTokenReturned = null;
    this.ns = collName === null ? `${dbName}.$cmd.aggregate` : `${dbName}.${collName}`;
  }

  nsMatches(ev) {
    if (this.cluster) return !INTERNAL_DBS.has(ev.db);
    if (ev.db !== this.db) return false;
    if (this.coll === null) return true;
    return ev.coll === this.coll || ev.op === 'dropDatabase';
  }

  // Collects up to max events (Buffers). Sets this.closed after an invalidate.
  next(max) {
    const out = [];
    if (this.history.lost(this.pos + 1) && this.pos < this.history.lastSeq) {
      throw new CommandError(286, 'Resume of change stream was not possible, as the resume point may no longer be in the oplog.');
    }
    let lastReturnedSeq = -1;
    let bytesTotal = 0;
    while (!this.closed && out.length < max && bytesTotal < 16 * 1024 * 1024) {
      if (this.pendingInvalidate) {
        const inv = this.pendingInvalidate;
        out.push(buildDoc([{ _id: inv.token, operationType: 'invalidate', clusterTime: inv.ts, wallTime: inv.wall }]));
        this.lastTokenReturned = inv.token;
        this.pendingInvalidate = null;
        this.closed = true;
        break;
      }
      if (this.pos >= this.history.lastSeq) break;
      const ev = this.history.get(this.pos + 1);
      this.pos += 1;
      if (!ev) continue;
      if (this.minTs && compare(ev.ts, this.minTs) < 0) continue;
      if (!this.nsMatches(ev)) continue;
      const invalidates = !this.cluster && ((this.coll !== null && (ev.op === 'drop' || ev.op === 'dropDatabase'))
        || (this.coll === null && ev.op === 'dropDatabase'));
      let doc = null;
      if (!(this.coll !== null && ev.op === 'dropDatabase')) doc = this.render(ev);
      if (doc) {
        out.push(doc);
        bytesTotal += doc.length;
        lastReturnedSeq = ev.seq;
        this.lastTokenReturned = makeToken(ev.ts, ev.seq, 0);
      }
      if (invalidates) {
        this.pendingInvalidate = { token: makeToken(ev.ts, ev.seq, FLAG_INVALIDATE), ts: ev.ts, wall: ev.wall };
      }
    }
    let pbrt;
    if (this.closed) pbrt = this.lastTokenReturned;
    else if (lastReturnedSeq === this.pos) pbrt = this.lastTokenReturned;
    else {
      const ev = this.history.get(this.pos);
      const ts = this.pos >= this.history.lastSeq ? this.history.clock.current() : (ev ? ev.ts : this.history.clock.current());
      pbrt = makeToken(ts, this.pos, FLAG_HWM);
    }
    return { docs: out, pbrt };
  }

  // The $match verdict for an event when the filter reads only operationType and ns.
  prefiltered(ev) {
    const cache = this.prefilterCache;
    const key = cache && typeof ev.op === 'string' && typeof ev.db === 'string'
      && (ev.op === 'dropDatabase' || typeof ev.coll === 'string')
      ? `${ev.op}\0${ev.db}\0${ev.op === 'dropDatabase' ? '' : ev.coll}` : null;
    if (key !== null) {
      const hit = cache.get(key);
      if (hit !== undefined) return hit;
    }
    // The same fields, built the same way, as in the full event's view in render().
    const ns = ev.op === 'dropDatabase' ? { db: ev.db } : { db: ev.db, coll: ev.coll };
    const pass = this.filter.test({ operationType: ev.op, ns });
    if (key !== null) {
      if (cache.size >= 10000) cache.clear();
      cache.set(key, pass);
    }
    return pass;
  }

  // The event document for this stream, or null if the user's pipeline drops it.
  render(ev) {
    if (this.prefilter && !this.prefiltered(ev)) return null;
    const token = makeToken(ev.ts, ev.seq, 0);
    const head = { _id: token, operationType: ev.op, clusterTime: ev.ts, wallTime: ev.wall };
    const parts = [head];
    let full;
    let fullBytes;
    let beforeBytes;
    if (ev.op === 'insert' || ev.op === 'replace') {
      fullBytes = ev.post;
    } else if (ev.op === 'update') {
      if (this.fullDocument === 'updateLookup') {
        const c = this.engine.store.coll(ev.db, ev.coll, false);
        const rec = c ? c.get(ev.id) : null;
        fullBytes = rec ? rec.bytes : null;
      } else if (this.fullDocument === 'whenAvailable' || this.fullDocument === 'required') {
        fullBytes = ev.post || null;
        if (!fullBytes && this.fullDocument === 'required') {
          throw new CommandError(280, `Change stream was configured to require a post-image for all update, delete and replace events, but the post-image was not found for event: ${ev.db}.${ev.coll}`);
        }
      }
    }
    if (this.before !== 'off' && (ev.op === 'update' || ev.op === 'replace' || ev.op === 'delete')) {
      beforeBytes = ev.pre || null;
      if (!beforeBytes && this.before === 'required') {
        throw new CommandError(280, `Change stream was configured to require a pre-image for all update, delete and replace events, but the pre-image was not found for event: ${ev.db}.${ev.coll}`);
      }
    }
    if (fullBytes !== undefined) {
      parts.push(['fullDocument', fullBytes]);
      full = fullBytes;
    }
    const ns = ev.op === 'dropDatabase' ? { db: ev.db } : { db: ev.db, coll: ev.coll };
    const tail = { ns };
    if (ev.id !== undefined && ev.id !== null) tail.documentKey = { _id: ev.id };
    if (ev.op === 'update') tail.updateDescription = ev.upd;
    parts.push(tail);
    if (beforeBytes !== undefined) parts.push(['fullDocumentBeforeChange', beforeBytes]);
    const bytes = buildDoc(parts);
    if (this.matchOnly) {
      if (this.filter.empty || this.prefilter) return bytes;
      const view = promote(head);
      if (full !== undefined) {
        Object.defineProperty(view, 'fullDocument', {
          enumerable: true, configurable: true, get: () => (full ? toView(full) : null),
        });
      }
      Object.assign(view, promote(tail));
      if (beforeBytes !== undefined) view.fullDocumentBeforeChange = beforeBytes ? toView(beforeBytes) : null;
      return this.filter.test(view) ? bytes : null;
    }
    const raw = toRaw(bytes);
    const view = promote(raw);
    const res = aggregate(this.pipelineView, [view]);
    if (res.length === 0) return null;
    const out = fromJsKeeping(res[0], view, raw);
    if (!isPlainObject(out._id) || !equals(out._id, token)) {
      throw new CommandError(280, 'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. Modifying the _id field of an event makes it impossible to resume the stream from that point. Only transformations that retain the unmodified _id field are allowed.');
    }
    return serialize(out);
  }
}

// Does query filter f (promoted) read nothing but the given top-level fields and
// dotted paths? Conservative: only $and/$or/$nor at the top and, on a field, a literal
// or comparison, set, existence, type, regex and size operators ($not of those);
// anything else ($expr, $where, $jsonSchema, $elemMatch, unknown operators) is "no".
const PREFILTER_FIELDS = new Set(['operationType', 'ns', 'ns.db', 'ns.coll']);
const FIELD_OPS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$type', '$regex', '$options', '$size']);

function readsOnly(f, fields) {
  if (!isPlainObject(f)) return false;
  for (const [k, v] of Object.entries(f)) {
    if (k === '$and' || k === '$or' || k === '$nor') {
      if (!Array.isArray(v) || !v.every((sub) => readsOnly(sub, fields))) return false;
    } else if (!fields.has(k) || !fieldCondition(v)) return false;
  }
  return true;
}

function hasRegex(v) {
  if (v instanceof RegExp) return true;
  if (Array.isArray(v)) return v.some(hasRegex);
  if (isPlainObject(v)) return Object.keys(v).some((k) => k === '$regex' || k === '$options' || hasRegex(v[k]));
  return false;
}

function fieldCondition(v) {
  if (!isPlainObject(v)) return true; // a literal: equality
  const ks = Object.keys(v);
  if (!ks.some((k) => k.startsWith('$'))) return true; // an object literal
  return ks.every((k) => FIELD_OPS.has(k) || (k === '$not' && (v.$not instanceof RegExp || (isPlainObject(v.$not)
    && Object.keys(v.$not).length > 0 && Object.keys(v.$not).every((x) => FIELD_OPS.has(x))))));
}

// updateDescription for an update from old to new raw document (mongod's v2 deltas:
// dotted paths for nested changes, appended array elements as path.N, truncations).
function identical(a, b) {
  if (a === b) return true; // a value an update left alone (compare(x, x) is always 0)
  const ta = typeName(a);
  if (ta !== typeName(b)) return false;
  if (ta === 'array') return a.length === b.length && a.every((x, i) => identical(x, b[i]));
  if (ta === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && identical(a[k], b[k]));
  }
  return compare(a, b) === 0;
}

function diff(a, b) {
  const out = { updatedFields: {}, removedFields: [], truncatedArrays: [] };
  walk(a, b, '', out);
  return out;
}

function walk(a, b, prefix, out) {
  for (const k of Object.keys(b)) {
    const p = prefix + k;
    if (!Object.prototype.hasOwnProperty.call(a, k)) {
      out.updatedFields[p] = b[k];
      continue;
    }
    const x = a[k];
    const y = b[k];
    if (identical(x, y)) continue;
    const tx = typeName(x);
    const ty = typeName(y);
    if (tx === 'object' && ty === 'object' && Object.keys(y).length > 0) {
      walk(x, y, p + '.', out);
    } else if (tx === 'array' && ty === 'array') {
      const n = Math.min(x.length, y.length);
      let changed = 0;
      for (let i = 0; i < n; i++) if (!identical(x[i], y[i])) changed++;
      if (changed > n / 2 && n > 0) {
        out.updatedFields[p] = y;
        continue;
      }
      for (let i = 0; i < n; i++) {
        if (identical(x[i], y[i])) continue;
        if (typeName(x[i]) === 'object' && typeName(y[i]) === 'object') walk(x[i], y[i], `${p}.${i}.`, out);
        else out.updatedFields[`${p}.${i}`] = y[i];
      }
      for (let i = n; i < y.length; i++) out.updatedFields[`${p}.${i}`] = y[i];
      if (y.length < x.length) out.truncatedArrays.push({ field: p, newSize: y.length });
    } else {
      out.updatedFields[p] = y;
    }
  }
  for (const k of Object.keys(a)) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) out.removedFields.push(prefix + k);
  }
}

module.exports = { Clock, History, ChangeStream, makeToken, parseToken, diff, FLAG_HWM, FLAG_INVALIDATE };
