'use strict';
// BSON helpers shared by every part of the server.
//
// Documents live in two forms: "raw" (deserialized with promoteValues: false, so
// int32/int64/double/decimal stay distinct and round-trip exactly) and "view"
// (default promotion: plain JS numbers, which is what mingo's query engine expects).
// Writes always operate on raw values; reads (matching, sorting) on views.

const BSON = require('bson');
const { Int32, Long, Double, Decimal128, ObjectId, Timestamp, Binary, BSONRegExp } = BSON;

const RAW_OPTS = { promoteValues: false, promoteBuffers: false, bsonRegExp: true };
const SER_OPTS = { checkKeys: false, ignoreUndefined: false };

function toRaw(bytes) {
  return BSON.deserialize(bytes, RAW_OPTS);
}

// The promoted view mingo queries. int64 values beyond 2^53 and decimals become JS
// numbers (nearest double) so they still compare with other numbers; exactness is
// kept where it matters most: _id/index lookups and $type use the raw document.
function toView(bytes) {
  return fixNumbers(BSON.deserialize(bytes));
}

function fixNumbers(v) {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x !== null && typeof x === 'object') v[i] = fixOne(x);
    }
    return v;
  }
  if (v._bsontype !== undefined || v instanceof Date || v instanceof RegExp) return v;
  for (const k in v) {
    const x = v[k];
    if (x !== null && typeof x === 'object') v[k] = fixOne(x);
  }
  return v;
}

function fixOne(x) {
  switch (x._bsontype) {
    case 'Long': return x.toNumber();
    case 'Decimal128': return parseFloat(x.toString());
    case undefined: return fixNumbers(x);
    default: return x;
  }
}

function serialize(obj) {
  return BSON.serialize(obj, SER_OPTS);
}

// ---- type names (the names $type / $jsonSchema bsonType use) ----

function typeName(v) {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string': return 'string';
    case 'boolean': return 'bool';
    case 'number': return Number.isInteger(v) && v >= -2147483648 && v <= 2147483647 ? 'int' : 'double';
    case 'bigint': return 'long';
    default: break;
  }
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  if (v instanceof RegExp) return 'regex';
  switch (v._bsontype) {
    case 'Int32': return 'int';
    case 'Double': return 'double';
    case 'Long': return 'long';
    case 'Decimal128': return 'decimal';
    case 'ObjectId': return 'objectId';
    case 'Timestamp': return 'timestamp';
    case 'Binary': return 'binData';
    case 'BSONRegExp': return 'regex';
    case 'MinKey': return 'minKey';
    case 'MaxKey': return 'maxKey';
    case 'Code': return 'javascript';
    case 'BSONSymbol': return 'symbol';
    case 'DBRef': return 'object';
    default: break;
  }
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return 'binData';
  return 'object';
}

function isNumeric(v) {
  const t = typeName(v);
  return t === 'int' || t === 'long' || t === 'double' || t === 'decimal';
}

function numberValue(v) {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v == null) return NaN;
  switch (v._bsontype) {
    case 'Int32': case 'Double': return v.value;
    case 'Long': return v.toNumber();
    case 'Decimal128': return parseFloat(v.toString());
    default: return NaN;
  }
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && typeName(v) === 'object' && !(v instanceof BSON.DBRef);
}

// ---- canonical BSON ordering (MongoDB's comparison/sort order) ----

const TYPE_RANK = {
  minKey: 1, missing: 2, null: 2, undefined: 2, int: 3, long: 3, double: 3, decimal: 3,
  string: 4, symbol: 4, object: 5, array: 6, binData: 7, objectId: 8, bool: 9,
  date: 10, timestamp: 11, regex: 12, javascript: 13, maxKey: 14,
};

function cmpPrim(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compare(a, b) {
  // Shortcuts for the commonest index keys; the general case below gives the same.
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (a instanceof Date && b instanceof Date) return cmpPrim(a.getTime(), b.getTime());
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object'
    && a._bsontype === 'Long' && b._bsontype === 'Long' && a.unsigned === false && b.unsigned === false) {
    // two signed int64s: Long.compare's order (high word signed, then low unsigned)
    if (a.high !== b.high) return a.high < b.high ? -1 : 1;
    if (a.low !== b.low) return (a.low >>> 0) < (b.low >>> 0) ? -1 : 1;
    return 0;
  }
  const ta = typeName(a), tb = typeName(b);
  const ra = TYPE_RANK[ta] || 5, rb = TYPE_RANK[tb] || 5;
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 1: case 2: case 14: return 0;
    case 3: {
      if (ta === 'long' && tb === 'long') return Long.fromValue(a).compare(Long.fromValue(b));
      const x = numberValue(a), y = numberValue(b);
      if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
      if (Number.isNaN(y)) return 1;
      return cmpPrim(x, y);
    }
    case 4: return cmpPrim(String(a), String(b));
    case 5: {
      const ka = Object.keys(a), kb = Object.keys(b);
      for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
        const c = compare(a[ka[i]], b[kb[i]]);
        if (c !== 0) return c;
        const k = cmpPrim(ka[i], kb[i]);
        if (k !== 0) return k;
      }
      return cmpPrim(ka.length, kb.length);
    }
    case 6: {
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        const c = compare(a[i], b[i]);
        if (c !== 0) return c;
      }
      return cmpPrim(a.length, b.length);
    }
    case 7: {
      const ba = a.buffer || a, bb = b.buffer || b;
      if (ba.length !== bb.length) return cmpPrim(ba.length, bb.length);
      return Buffer.compare(Buffer.from(ba), Buffer.from(bb));
    }
    case 8: return cmpPrim(a.toHexString(), b.toHexString());
    case 9: return cmpPrim(a ? 1 : 0, b ? 1 : 0);
    case 10: return cmpPrim(a.getTime(), b.getTime());
    case 11: return a.compare(b);
    default: return cmpPrim(String(a), String(b));
  }
}

function equals(a, b) {
  return compare(a, b) === 0;
}

// ---- index keys: equal BSON values (1, 1.0, NumberLong(1)) give equal strings ----

function keyString(v) {
  const t = typeName(v);
  switch (TYPE_RANK[t]) {
    case 2: return 'z';
    case 3: {
      // Integers as exact decimal strings, so NumberLong(2^60) and 2^60 as a double
      // (equal in MongoDB) get one key.
      if (t === 'long') {
        // within 2^53 a Long's decimal digits are its number's (without a radix loop)
        if (typeof v === 'object' && v.unsigned === false) {
          const x = v.toNumber();
          if (Number.isSafeInteger(x)) return 'n' + x;
        }
        return 'n' + Long.fromValue(v).toString();
      }
      const n = numberValue(v);
      if (Number.isSafeInteger(n)) return 'n' + n; // the same digits as BigInt(n)
      if (Number.isInteger(n) && Math.abs(n) < 9223372036854775808) return 'n' + BigInt(n).toString();
      return 'n' + n;
    }
    case 4: return 's' + String(v);
    case 8: return 'o' + v.toHexString();
    case 9: return v ? 'bt' : 'bf';
    case 10: return 'd' + v.getTime();
    case 5: return 'O{' + Object.keys(v).map((k) => JSON.stringify(k) + ':' + keyString(v[k])).join(',') + '}';
    case 6: return 'A[' + v.map(keyString).join(',') + ']';
    case 7: return 'B' + Buffer.from(v.buffer || v).toString('hex');
    case 11: return 't' + v.toString();
    default: return t + ':' + String(v);
  }
}

// ---- paths ----

// All values reachable at a dotted path, descending into arrays the way MongoDB's
// query and index code does (a.b over [{b:1},{b:2}] yields 1 and 2).
// Arrays at the end of the path are returned whole; callers expand if they need to.
function valuesAtPath(doc, parts, i = 0, out = []) {
  if (i === parts.length) {
    out.push(doc);
    return out;
  }
  if (doc === null || typeof doc !== 'object') return out;
  if (Array.isArray(doc)) {
    const idx = /^\d+$/.test(parts[i]) ? Number(parts[i]) : -1;
    if (idx >= 0 && idx < doc.length) valuesAtPath(doc[idx], parts, i + 1, out);
    for (const el of doc) {
      if (el !== null && typeof el === 'object' && !Array.isArray(el)) valuesAtPath(el, parts, i, out);
    }
    return out;
  }
  if (!Object.prototype.hasOwnProperty.call(doc, parts[i])) return out;
  return valuesAtPath(doc[parts[i]], parts, i + 1, out);
}

// The single value at a path without array traversal (update operators use this).
function getPath(doc, parts) {
  let cur = doc;
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(p)) return undefined;
      cur = cur[Number(p)];
    } else {
      if (!Object.prototype.hasOwnProperty.call(cur, p)) return undefined;
      cur = cur[p];
    }
  }
  return cur;
}

// Raw value -> view value (what BSON.deserialize with default promotion would give).
function promote(v) {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(promote);
  switch (v._bsontype) {
    case 'Int32': case 'Double': return v.value;
    case 'Long': return v.toNumber();
    case 'Decimal128': return parseFloat(v.toString());
    case 'BSONRegExp': {
      try {
        return new RegExp(v.pattern, v.options.replace(/[^gimsuy]/g, ''));
      } catch (e) {
        return v;
      }
    }
    case undefined: break;
    default: return v;
  }
  if (v instanceof Date || v instanceof RegExp) return v;
  const o = {};
  for (const k of Object.keys(v)) o[k] = promote(v[k]);
  return o;
}

// ---- converting JS values produced by mingo back to BSON types ----

function fromJs(v) {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && !Object.is(v, -0)) {
      if (v >= -2147483648 && v <= 2147483647) return new Int32(v);
      if (Number.isSafeInteger(v)) return Long.fromNumber(v);
    }
    return new Double(v);
  }
  if (typeof v === 'bigint') return Long.fromBigInt(v);
  if (v instanceof RegExp) return new BSONRegExp(v.source, v.flags);
  if (Array.isArray(v)) return v.map(fromJs);
  if (isPlainObject(v)) {
    const o = {};
    for (const k of Object.keys(v)) if (v[k] !== undefined) o[k] = fromJs(v[k]);
    return o;
  }
  return v;
}

// Like fromJs, but where a value is unchanged from the original document keep the
// original raw value (so a pipeline update or aggregate keeps int64 as int64).
function fromJsKeeping(v, oldView, oldRaw) {
  if (oldRaw !== undefined && oldView !== undefined && isSameView(v, oldView)) return oldRaw;
  if (Array.isArray(v)) {
    return v.map((el, i) => fromJsKeeping(el, Array.isArray(oldView) ? oldView[i] : undefined,
      Array.isArray(oldRaw) ? oldRaw[i] : undefined));
  }
  if (isPlainObject(v)) {
    const o = {};
    const ov = isPlainObject(oldView) ? oldView : null;
    const or = isPlainObject(oldRaw) ? oldRaw : null;
    for (const k of Object.keys(v)) {
      if (v[k] === undefined) continue;
      o[k] = fromJsKeeping(v[k], ov ? ov[k] : undefined, or ? or[k] : undefined);
    }
    return o;
  }
  return fromJs(v);
}

function isSameView(a, b) {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b);
  return typeName(a) === typeName(b) && equals(a, b);
}

// ---- mongod-style rendering of values (E11000 messages) ----

function render(v) {
  const t = typeName(v);
  switch (t) {
    case 'missing': case 'null': return 'null';
    case 'string': return JSON.stringify(v);
    case 'int': case 'double': case 'decimal': {
      const n = numberValue(v);
      return t === 'double' && Number.isInteger(n) ? n.toFixed(1) : String(n);
    }
    case 'long': return Long.fromValue(v).toString();
    case 'bool': return v ? 'true' : 'false';
    case 'objectId': return "ObjectId('" + v.toHexString() + "')";
    case 'date': return 'new Date(' + v.getTime() + ')';
    case 'timestamp': return 'Timestamp(' + v.high + ', ' + v.low + ')';
    case 'array': return '[ ' + v.map(render).join(', ') + ' ]';
    case 'object': {
      const ks = Object.keys(v);
      return ks.length === 0 ? '{}' : '{ ' + ks.map((k) => k + ': ' + render(v[k])).join(', ') + ' }';
    }
    case 'binData': return 'BinData(' + (v.sub_type || 0) + ', ' + Buffer.from(v.buffer || v).toString('hex').toUpperCase() + ')';
    default: return String(v);
  }
}

// ---- assembling BSON documents from already-serialized parts ----
// Replies carry stored documents as their original bytes; re-serializing 100,000
// documents for a scan would be the server's main cost.

function elementsOf(obj) {
  const b = serialize(obj);
  return b.subarray(4, b.length - 1);
}

// parts: plain objects (their fields are appended) or [name, Buffer|Buffer[]|null]
// where a Buffer is an embedded document and an array of Buffers an embedded array.
// The sizes are summed first and everything is written into one buffer.
function buildDoc(parts) {
  const segs = new Array(parts.length);
  let len = 5;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (Array.isArray(p)) {
      const [name, val] = p;
      const nameLen = Buffer.byteLength(name, 'utf8');
      let bodyLen = 0;
      if (Buffer.isBuffer(val)) bodyLen = val.length;
      else if (val !== null) bodyLen = arrayLength(val);
      segs[i] = { name, nameLen, val };
      len += 2 + nameLen + bodyLen;
    } else {
      const raw = p.__raw ? p.__raw : elementsOf(p);
      segs[i] = raw;
      len += raw.length;
    }
  }
  const out = Buffer.allocUnsafe(len);
  out.writeInt32LE(len, 0);
  let off = 4;
  for (const seg of segs) {
    if (Buffer.isBuffer(seg)) {
      off += seg.copy(out, off);
      continue;
    }
    const { name, nameLen, val } = seg;
    out[off++] = val === null ? 0x0a : Buffer.isBuffer(val) ? 0x03 : 0x04;
    off += out.write(name, off, nameLen, 'utf8');
    out[off++] = 0;
    if (val === null) continue;
    if (Buffer.isBuffer(val)) off += val.copy(out, off);
    else off = writeArray(out, off, val);
  }
  out[off++] = 0;
  if (off !== len) throw new Error(`buildDoc: wrote ${off} bytes of ${len}`);
  return out;
}

function arrayLength(buffers) {
  let len = 5;
  for (let i = 0; i < buffers.length; i++) len += 2 + String(i).length + buffers[i].length;
  return len;
}

// An embedded array of documents at off; returns the offset after it.
function writeArray(out, off, buffers) {
  const start = off;
  off += 4;
  for (let i = 0; i < buffers.length; i++) {
    out[off++] = 0x03;
    off += out.write(String(i), off, 'latin1');
    out[off++] = 0;
    off += buffers[i].copy(out, off);
  }
  out[off++] = 0;
  out.writeInt32LE(off - start, start);
  return off;
}

function buildArray(buffers) {
  const out = Buffer.allocUnsafe(arrayLength(buffers));
  writeArray(out, 0, buffers);
  return out;
}

module.exports = {
  BSON, Int32, Long, Double, Decimal128, ObjectId, Timestamp, Binary, BSONRegExp,
  toRaw, toView, serialize, typeName, isNumeric, numberValue, isPlainObject,
  compare, equals, keyString, valuesAtPath, getPath, promote, fromJs, fromJsKeeping, render,
  buildDoc, buildArray, elementsOf,
};
