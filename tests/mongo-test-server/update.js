'use strict';
// Update operators applied to raw BSON documents, with mongod's type rules: $inc on
// int64 stays int64, int32 overflow widens to int64, anything with a double is a double.

const {
  BSON, Int32, Long, Double, Decimal128, Timestamp, typeName, isNumeric, numberValue, isPlainObject,
  compare, equals, render, promote, toRaw, serialize, fromJsKeeping,
} = require('./bsonutil');
const { CommandError } = require('./errors');
const { compileFilter, compileFilterRaw, aggregate } = require('./query');

const OPERATORS = new Set([
  '$set', '$unset', '$inc', '$mul', '$setOnInsert', '$push', '$addToSet', '$max', '$min',
  '$currentDate', '$pull', '$pullAll', '$pop', '$rename',
]);

function kind(update) {
  if (Array.isArray(update)) return 'pipeline';
  if (!isPlainObject(update)) throw new CommandError(14, 'Update argument must be either an object or an array');
  const keys = Object.keys(update);
  if (keys.length && keys[0].startsWith('$')) return 'operators';
  for (const k of keys) {
    if (k.startsWith('$')) throw new CommandError(52, `The dollar ($) prefixed field '${k}' in '${k}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`);
  }
  return 'replacement';
}

function idRender(doc) {
  return `{_id: ${render(doc._id)}}`;
}

// Validates operator names and path conflicts once per update statement.
function parseOperators(update) {
  const ops = [];
  const paths = [];
  for (const [op, fields] of Object.entries(update)) {
    if (!op.startsWith('$')) {
      throw new CommandError(9, `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`);
    }
    if (!OPERATORS.has(op)) {
      throw new CommandError(9, `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`);
    }
    if (!isPlainObject(fields)) {
      throw new CommandError(9, `Modifiers operate on fields but we found type ${typeName(fields)} instead. For example: {$mod: {<field>: ...}} not {${op}: ${render(fields)}}`);
    }
    for (const path of Object.keys(fields)) {
      const arg = fields[path];
      const parts = path.split('.');
      if (path === '' || parts.includes('')) {
        throw new CommandError(56, `An empty update path is not valid.`);
      }
      if (parts.some((p) => p.startsWith('$'))) {
        throw new CommandError(2, `positional and array-filter update operators are not supported by the test server (path '${path}')`);
      }
      ops.push({ op, path, parts, arg });
      paths.push(path);
      if (op === '$rename') {
        if (typeof arg !== 'string') throw new CommandError(2, `The 'to' field for $rename must be a string: ${path}: ${render(arg)}`);
        ops[ops.length - 1].to = arg.split('.');
        paths.push(arg);
      }
    }
  }
  for (let i = 0; i < paths.length; i++) {
    for (let j = i + 1; j < paths.length; j++) {
      const a = paths[i];
      const b = paths[j];
      if (a === b || isPathPrefix(b, a) || isPathPrefix(a, b)) {
        throw new CommandError(40, `Updating the path '${b}' would create a conflict at '${a.length < b.length ? a : b}'`);
      }
    }
  }
  return ops;
}

// a.startsWith(p + '.') without building the string.
function isPathPrefix(p, a) {
  return a.length > p.length && a.charCodeAt(p.length) === 46 && a.startsWith(p);
}

// Walks to the parent of parts' last element, creating objects if create is set.
function parentOf(doc, parts, create, op) {
  let cur = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i];
    let next;
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(p)) {
        if (!create) return null;
        throw new CommandError(28, `Cannot create field '${p}' in element {${parts[i - 1]}: ${render(cur)}}`);
      }
      next = cur[Number(p)];
      if (next === undefined) {
        if (!create) return null;
        while (cur.length < Number(p)) cur.push(null);
        next = cur[Number(p)] = {};
      }
    } else {
      next = Object.prototype.hasOwnProperty.call(cur, p) ? cur[p] : undefined;
      if (next === undefined) {
        if (!create) return null;
        next = cur[p] = {};
      }
    }
    if (next === null || typeof next !== 'object' || (!Array.isArray(next) && !isPlainObject(next))) {
      if (!create) return null;
      throw new CommandError(28, `Cannot create field '${parts[i + 1]}' in element {${p}: ${render(next)}}`);
    }
    cur = next;
  }
  return cur;
}

function getField(parent, key) {
  if (parent == null) return undefined;
  if (Array.isArray(parent)) return /^\d+$/.test(key) ? parent[Number(key)] : undefined;
  return Object.prototype.hasOwnProperty.call(parent, key) ? parent[key] : undefined;
}

function setField(parent, key, value) {
  if (Array.isArray(parent)) {
    const i = Number(key);
    while (parent.length < i) parent.push(null);
    parent[i] = value;
  } else {
    parent[key] = value;
  }
}

function unsetField(parent, key) {
  if (parent == null) return;
  if (Array.isArray(parent)) {
    // mongod leaves a null hole rather than shifting the array.
    if (/^\d+$/.test(key) && Number(key) < parent.length) parent[Number(key)] = null;
  } else {
    delete parent[key];
  }
}

const NUM_RANK = { int: 1, long: 2, double: 3, decimal: 4 };

function arith(op, a, b, doc, path) {
  const ta = typeName(a);
  const tb = typeName(b);
  const rank = Math.max(NUM_RANK[ta], NUM_RANK[tb]);
  if (rank === 4) {
    const x = numberValue(a);
    const y = numberValue(b);
    return Decimal128.fromString(String(op === '$inc' ? x + y : x * y));
  }
  if (rank === 3) return new Double(op === '$inc' ? numberValue(a) + numberValue(b) : numberValue(a) * numberValue(b));
  const x = BigInt(ta === 'long' ? Long.fromValue(a).toString() : numberValue(a));
  const y = BigInt(tb === 'long' ? Long.fromValue(b).toString() : numberValue(b));
  const r = op === '$inc' ? x + y : x * y;
  if (rank === 1 && r >= -2147483648n && r <= 2147483647n) return new Int32(Number(r));
  if (r < -9223372036854775808n || r > 9223372036854775807n) {
    throw new CommandError(2, `Failed to apply ${op} operations to current field '${path}' value (${render(a)}) for document ${idRender(doc)}`);
  }
  return Long.fromBigInt(r);
}

function zeroOf(v) {
  switch (typeName(v)) {
    case 'int': return new Int32(0);
    case 'long': return Long.fromNumber(0);
    case 'decimal': return Decimal128.fromString('0');
    default: return new Double(0);
  }
}

function eachArg(arg) {
  if (isPlainObject(arg) && '$each' in arg) {
    if (!Array.isArray(arg.$each)) throw new CommandError(2, `The argument to $each must be an array but it was of type: ${typeName(arg.$each)}`);
    return { values: arg.$each, mods: arg };
  }
  return { values: [arg], mods: null };
}

function pullMatcher(cond) {
  if (isPlainObject(cond)) {
    const keys = Object.keys(cond);
    if (keys.length && keys.every((k) => k.startsWith('$'))) {
      const q = compileFilter({ v: promote(cond) });
      return (el) => q.test({ v: promote(el) });
    }
    const q = compileFilterRaw(cond);
    return (el) => isPlainObject(el) && q.test(promote(el));
  }
  return (el) => equals(el, cond) && (isNumeric(el) === isNumeric(cond));
}

function applyOne(doc, o, isInsert) {
  const { op, parts, path, arg } = o;
  const key = parts[parts.length - 1];
  switch (op) {
    case '$setOnInsert':
      if (!isInsert) return;
    // falls through
    case '$set':
      setField(parentOf(doc, parts, true, op), key, arg);
      return;
    case '$unset':
      unsetField(parentOf(doc, parts, false, op), key);
      return;
    case '$inc':
    case '$mul': {
      if (!isNumeric(arg)) {
        throw new CommandError(14, `Cannot ${op === '$inc' ? 'increment' : 'multiply'} with non-numeric argument: {${path}: ${render(arg)}}`);
      }
      const parent = parentOf(doc, parts, true, op);
      const cur = getField(parent, key);
      if (cur === undefined) {
        setField(parent, key, op === '$inc' ? arg : zeroOf(arg));
        return;
      }
      if (!isNumeric(cur)) {
        throw new CommandError(14, `Cannot apply ${op} to a value of non-numeric type. ${idRender(doc)} has the field '${key}' of non-numeric type ${typeName(cur)}`);
      }
      setField(parent, key, arith(op, cur, arg, doc, path));
      return;
    }
    case '$max':
    case '$min': {
      const parent = parentOf(doc, parts, true, op);
      const cur = getField(parent, key);
      const c = cur === undefined ? null : compare(arg, cur);
      if (cur === undefined || (op === '$max' ? c > 0 : c < 0)) setField(parent, key, arg);
      return;
    }
    case '$currentDate': {
      let t = 'date';
      if (isPlainObject(arg)) {
        t = arg.$type;
        if (t !== 'date' && t !== 'timestamp') throw new CommandError(2, "The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}");
      } else if (typeof arg !== 'boolean') {
        throw new CommandError(2, `${path} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).`);
      }
      const now = new Date();
      setField(parentOf(doc, parts, true, op), key,
        t === 'date' ? now : new Timestamp({ t: Math.floor(now.getTime() / 1000), i: 1 }));
      return;
    }
    case '$rename': {
      const parent = parentOf(doc, parts, false, op);
      if (Array.isArray(parent)) throw new CommandError(2, `The source field cannot be an array element, '${path}' in doc with _id: ${render(doc._id)} has an array field called '${parts[parts.length - 2]}'`);
      const cur = getField(parent, key);
      if (cur === undefined) return;
      delete parent[key];
      setField(parentOf(doc, o.to, true, op), o.to[o.to.length - 1], cur);
      return;
    }
    case '$push':
    case '$addToSet': {
      const parent = parentOf(doc, parts, true, op);
      let cur = getField(parent, key);
      if (cur === undefined) {
        cur = [];
        setField(parent, key, cur);
      } else if (!Array.isArray(cur)) {
        throw new CommandError(op === '$push' ? 2 : 2, `The field '${path}' must be an array but is of type ${typeName(cur)} in document ${idRender(doc)}`);
      }
      const { values, mods } = eachArg(arg);
      if (op === '$addToSet') {
        for (const v of values) if (!cur.some((el) => equals(el, v))) cur.push(v);
        return;
      }
      let pos = cur.length;
      if (mods && mods.$position !== undefined) {
        pos = numberValue(mods.$position);
        if (pos < 0) pos = Math.max(0, cur.length + pos);
        pos = Math.min(pos, cur.length);
      }
      cur.splice(pos, 0, ...values);
      if (mods && mods.$sort !== undefined) {
        const s = mods.$sort;
        if (isPlainObject(s)) {
          const [[f, d]] = Object.entries(s);
          const dir = numberValue(d);
          cur.sort((x, y) => dir * compare(isPlainObject(x) ? x[f] : undefined, isPlainObject(y) ? y[f] : undefined));
        } else {
          const dir = numberValue(s);
          cur.sort((x, y) => dir * compare(x, y));
        }
      }
      if (mods && mods.$slice !== undefined) {
        const n = numberValue(mods.$slice);
        const kept = n >= 0 ? cur.slice(0, n) : cur.slice(Math.max(0, cur.length + n));
        cur.length = 0;
        cur.push(...kept);
      }
      return;
    }
    case '$pop': {
      const parent = parentOf(doc, parts, false, op);
      const cur = getField(parent, key);
      if (cur === undefined) return;
      if (!Array.isArray(cur)) throw new CommandError(14, `Path '${path}' contains an element of non-array type '${typeName(cur)}'`);
      if (numberValue(arg) === -1) cur.shift();
      else cur.pop();
      return;
    }
    case '$pull':
    case '$pullAll': {
      const parent = parentOf(doc, parts, false, op);
      const cur = getField(parent, key);
      if (cur === undefined) return;
      if (!Array.isArray(cur)) throw new CommandError(2, 'Cannot apply $pull to a non-array value');
      let match;
      if (op === '$pullAll') {
        if (!Array.isArray(arg)) throw new CommandError(2, `$pullAll requires an array argument but was given a ${typeName(arg)}`);
        match = (el) => arg.some((v) => equals(el, v));
      } else {
        match = pullMatcher(arg);
      }
      const kept = cur.filter((el) => !match(el));
      cur.length = 0;
      cur.push(...kept);
      return;
    }
    default:
      throw new CommandError(9, `Unknown modifier: ${op}`);
  }
}

// The document an update starts from: a copy of its objects and arrays. The values
// in it (Int32, Long, Double, Decimal128, ObjectId, Timestamp, Binary, BSONRegExp,
// Date, strings) are shared with the original: update operators replace values and
// never change one in place. A document holding anything a serialize + deserialize
// round trip would turn into something else (a JS number, undefined, DBRef, Code,
// an unsigned Long, an invalid Date, a "__proto__" key, ...) is copied that way,
// as before.
const SHARED_TYPES = new Set(['Int32', 'Double', 'Decimal128', 'ObjectId', 'Timestamp', 'Binary', 'BSONRegExp', 'MinKey', 'MaxKey']);

function copyValue(v) {
  if (typeof v === 'string' || typeof v === 'boolean' || v === null) return v;
  if (typeof v !== 'object') return undefined;
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) return undefined;
      const x = copyValue(v[i]);
      if (x === undefined) return undefined;
      out[i] = x;
    }
    return out;
  }
  const t = v._bsontype;
  if (t !== undefined) {
    if (SHARED_TYPES.has(t) && v.constructor === BSON[t]) return v;
    if (t === 'Binary' && v.constructor === BSON.UUID) return v; // what a subtype 4 decodes to
    if (t === 'Long' && v.constructor === Long && v.unsigned === false) return v;
    return undefined;
  }
  if (v instanceof Date) return v.constructor === Date && Number.isFinite(v.getTime()) ? v : undefined;
  if (Object.getPrototypeOf(v) !== Object.prototype) return undefined;
  return copyObject(v);
}

function copyObject(v) {
  const out = {};
  for (const k in v) {
    if (k === '__proto__' || !Object.prototype.hasOwnProperty.call(v, k)) return undefined;
    const x = copyValue(v[k]);
    if (x === undefined) return undefined;
    out[k] = x;
  }
  return out;
}

function deepCopy(raw) {
  const out = isPlainObject(raw) && Object.getPrototypeOf(raw) === Object.prototype ? copyObject(raw) : undefined;
  return out !== undefined ? out : toRaw(serialize(raw));
}

// Applies an update to a copy of oldRaw and returns the new raw document.
// isInsert: the document is being created by an upsert ($setOnInsert applies).
function apply(oldRaw, update, isInsert, parsed) {
  const k = kind(update);
  if (k === 'replacement') {
    const out = {};
    if (oldRaw && oldRaw._id !== undefined) out._id = oldRaw._id;
    for (const [f, v] of Object.entries(update)) {
      if (f === '_id' && out._id !== undefined) {
        if (!(equals(v, out._id) && typeName(v) === typeName(out._id))) {
          throw new CommandError(66, `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${render(v)}`);
        }
        continue;
      }
      out[f] = v;
    }
    return out;
  }
  if (k === 'pipeline') {
    const view = promote(oldRaw);
    const res = aggregate(promote(update), [view]);
    if (res.length !== 1) throw new CommandError(2, 'update pipeline must produce exactly one document');
    const out = fromJsKeeping(res[0], view, oldRaw);
    if (oldRaw._id !== undefined && !equals(out._id, oldRaw._id)) {
      throw new CommandError(66, `Performing an update on the path '_id' would modify the immutable field '_id'`);
    }
    return out;
  }
  const ops = parsed || parseOperators(update);
  const doc = deepCopy(oldRaw);
  for (const o of ops) applyOne(doc, o, isInsert);
  if (!isInsert && oldRaw._id !== undefined && !(equals(doc._id, oldRaw._id) && typeName(doc._id) === typeName(oldRaw._id))) {
    throw new CommandError(66, `Performing an update on the path '_id' would modify the immutable field '_id'`);
  }
  return doc;
}

// The seed document of an upsert: equality fields of the query.
function upsertSeed(filterRaw) {
  const seed = {};
  const add = (f) => {
    if (!isPlainObject(f)) return;
    for (const [k, v] of Object.entries(f)) {
      if (k === '$and' && Array.isArray(v)) v.forEach(add);
      else if (k.startsWith('$')) continue;
      else if (isPlainObject(v) && Object.keys(v).some((x) => x.startsWith('$'))) {
        if ('$eq' in v) setPath(seed, k, v.$eq);
      } else setPath(seed, k, v);
    }
  };
  add(filterRaw);
  return seed;
}

function setPath(doc, path, v) {
  const parts = path.split('.');
  setField(parentOf(doc, parts, true, '$set'), parts[parts.length - 1], v);
}

module.exports = { apply, kind, parseOperators, upsertSeed };
