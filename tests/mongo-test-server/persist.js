'use strict';
// Optional persistence (--data FILE): an append-only log of BSON records, replayed at
// start. Each record is one BSON document (self-delimiting by its length prefix), so a
// record torn by a crash is detected and cut off. After replay the file is rewritten
// as a compact snapshot (collections, indexes, documents, retained change history).
//
// Records are written synchronously before the command's reply is sent, so an
// acknowledged write survives a kill -9 of the server.

const fs = require('fs');
const { BSON, buildDoc } = require('./bsonutil');

// Stored documents are embedded as one-element arrays so they come back as their
// exact bytes (bson's fieldsAsRaw works on arrays), never re-encoded.
const LOAD_OPTS = { promoteValues: false, promoteBuffers: false, bsonRegExp: true, fieldsAsRaw: { doc: true, post: true, pre: true } };

class Persister {
  constructor(file, log) {
    this.file = file;
    this.log = log;
    this.fd = null;
    this.pending = [];
    this.goodLength = 0;
  }

  // Reads every complete record; returns them as raw objects ('doc', 'post', 'pre'
  // as arrays of one Buffer).
  load() {
    let buf;
    try {
      buf = fs.readFileSync(this.file);
    } catch (e) {
      if (e.code === 'ENOENT') return [];
      throw e;
    }
    const out = [];
    let off = 0;
    while (off + 5 <= buf.length) {
      const len = buf.readInt32LE(off);
      if (len < 5 || off + len > buf.length || buf[off + len - 1] !== 0) break;
      let rec;
      try {
        rec = BSON.deserialize(buf.subarray(off, off + len), LOAD_OPTS);
      } catch (e) {
        break;
      }
      out.push(rec);
      off += len;
    }
    if (off < buf.length) {
      this.log.warn(`persistence: ignoring ${buf.length - off} bytes of a torn record at the end of ${this.file}`);
    }
    this.goodLength = off;
    return out;
  }

  // Keeps the log as it is (appending after its last complete record).
  reopen() {
    fs.truncateSync(this.file, this.goodLength || 0);
    this.fd = fs.openSync(this.file, 'a');
  }

  // Atomically replaces the file with the given records, then opens it for appends.
  rewrite(records) {
    const tmp = this.file + '.tmp';
    const fd = fs.openSync(tmp, 'w');
    const CHUNK = 1024;
    for (let i = 0; i < records.length; i += CHUNK) {
      fs.writeSync(fd, Buffer.concat(records.slice(i, i + CHUNK)));
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, this.file);
    this.fd = fs.openSync(this.file, 'a');
  }

  append(recordBytes) {
    this.pending.push(recordBytes);
  }

  flush() {
    if (!this.pending.length || this.fd === null) return;
    const buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    fs.writeSync(this.fd, buf);
  }

  close() {
    this.flush();
    if (this.fd !== null) {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }
}

// Record constructors. Documents are embedded as their stored bytes.
const rec = {
  origin: (ts) => BSON.serialize({ op: 'origin', ts }),
  createColl: (c) => BSON.serialize({ op: 'cc', db: c.db.name, coll: c.name, uuid: c.uuid, opts: c.options }),
  collMod: (c) => BSON.serialize({ op: 'cm', db: c.db.name, coll: c.name, opts: c.options }),
  dropColl: (db, coll) => BSON.serialize({ op: 'dc', db, coll }),
  createIndex: (c, spec) => BSON.serialize({ op: 'ci', db: c.db.name, coll: c.name, spec }),
  dropIndex: (c, name) => BSON.serialize({ op: 'di', db: c.db.name, coll: c.name, name }),
  put: (c, bytes) => buildDoc([{ op: 'put', db: c.db.name, coll: c.name }, ['doc', [bytes]]]),
  del: (c, id) => BSON.serialize({ op: 'del', db: c.db.name, coll: c.name, id }),
  event: (ev) => {
    const head = { op: 'ev', seq: ev.seq, ts: ev.ts, wall: ev.wall, db: ev.db, o: ev.op };
    if (ev.coll !== undefined) head.coll = ev.coll;
    if (ev.id !== undefined) head.id = ev.id;
    if (ev.upd !== undefined) head.upd = ev.upd;
    const parts = [head];
    if (ev.post) parts.push(['post', [ev.post]]);
    if (ev.pre) parts.push(['pre', [ev.pre]]);
    return buildDoc(parts);
  },
};

module.exports = { Persister, rec };
