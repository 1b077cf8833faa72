'use strict';
// Reading: filters (mingo on promoted views), sort in MongoDB's BSON order, and
// projections applied to raw documents so returned values keep their BSON types.

const mingo = require('mingo');
const {
  typeName, isPlainObject, compare, valuesAtPath, promote, fromJsKeeping, numberValue,
} = require('./bsonutil');
const { CommandError } = require('./errors');
const { mingoJsonSchemaValidator } = require('./schema');

const MINGO_OPTS = { jsonSchemaValidator: mingoJsonSchemaValidator };

function mingoError(e) {
  if (e instanceof CommandError) return e;
  let msg = String(e && e.message ? e.message : e);
  const m = /unknown (?:query )?operator:? *'?(\$\w+)/i.exec(msg) || /operator '?(\$\w+)'? is not (?:registered|supported)/i.exec(msg);
  if (m) msg = 'unknown operator: ' + m[1];
  return new CommandError(2, msg);
}

// filterView: an already promoted filter. Returns { test(view) -> bool, view, empty }.
// filterView: an already promoted filter. Returns { test(view, raw?) -> bool, view,
// empty }. Pass raw (the unpromoted document) when at hand: $type predicates need
// it to tell int, long and double apart, which a promoted view cannot.
function compileFilter(filterView, extraOpts) {
  const f = filterView || {};
  if (!isPlainObject(f)) throw new CommandError(14, "BSON field 'filter' is the wrong type, expected type 'object'");
  if (Object.keys(f).length === 0) return { test: () => true, view: f, empty: true };
  const simple = !extraOpts && simpleEquality(f);
  if (simple) return { view: f, empty: false, test: simple, testRaw: simple.testRaw };
  const inTest = !extraOpts && simpleIn(f);
  if (inTest) return { view: f, empty: false, test: inTest, testRaw: inTest.testRaw };
  const mk = (cond) => {
    try {
      return new mingo.Query(cond, extraOpts ? { ...MINGO_OPTS, ...extraOpts } : MINGO_OPTS);
    } catch (e) {
      throw mingoError(e);
    }
  };
  const q = mk(f);
  const split = splitTypePredicates(f);
  const rest = split ? (Object.keys(split.rest).length ? mk(split.rest) : null) : null;
  const lite = !extraOpts && !split ? compileLite(f) : null;
  return {
    view: f,
    empty: false,
    needsRaw: !!split,
    testRaw: lite ? lite.testRaw : undefined,
    test(doc, raw) {
      try {
        if (split && raw !== undefined) {
          for (const p of split.preds) if (!p(raw)) return false;
          return rest ? rest.test(doc) : true;
        }
        return q.test(doc);
      } catch (e) {
        throw mingoError(e);
      }
    },
  };
}

const TYPE_CODES = {
  1: 'double', 2: 'string', 3: 'object', 4: 'array', 5: 'binData', 6: 'undefined', 7: 'objectId',
  8: 'bool', 9: 'date', 10: 'null', 11: 'regex', 13: 'javascript', 14: 'symbol', 16: 'int',
  17: 'timestamp', 18: 'long', 19: 'decimal', [-1]: 'minKey', 127: 'maxKey',
};

// Top-level (and $and) {path: {$type: T}} conditions, evaluated on the raw document.
function splitTypePredicates(f) {
  const preds = [];
  const rest = {};
  const walk = (cond, out) => {
    for (const [k, v] of Object.entries(cond)) {
      if (k === '$and' && Array.isArray(v)) {
        const kept = [];
        for (const sub of v) {
          const o = {};
          walk(sub, o);
          if (Object.keys(o).length) kept.push(o);
        }
        if (kept.length) out.$and = kept;
      } else if (!k.startsWith('$') && isPlainObject(v) && '$type' in v) {
        const types = (Array.isArray(v.$type) ? v.$type : [v.$type]).map((t) => (typeof t === 'number' ? TYPE_CODES[t] : t));
        if (types.some((t) => typeof t !== 'string')) throw new CommandError(2, `Invalid numerical type code: ${v.$type}`);
        const parts = k.split('.');
        preds.push((raw) => valuesAtPath(raw, parts).some((x) => typeMatch(x, types)
          || (Array.isArray(x) && x.some((el) => typeMatch(el, types)))));
        const others = { ...v };
        delete others.$type;
        if (Object.keys(others).length) out[k] = others;
      } else {
        out[k] = v;
      }
    }
  };
  walk(f, rest);
  return preds.length ? { preds, rest } : null;
}

function typeMatch(x, types) {
  const t = typeName(x);
  return types.some((want) => (want === 'number' ? ['int', 'long', 'double', 'decimal'].includes(t) : want === t));
}

// Same from a raw (unpromoted) filter, kept for exact index lookups (int64 beyond
// 2^53 loses precision in the promoted view).
function compileFilterRaw(raw, extraOpts) {
  const f = compileFilter(promote(raw || {}), extraOpts);
  return { ...f, raw: raw || {} };
}

// Filters made only of field: scalar equalities (the common lookup shape) are matched
// without building a mingo query: same semantics (array elements match, numbers
// compare by value across types), a fraction of the cost.
const SIMPLE_TYPES = new Set(['string', 'int', 'double', 'long', 'objectId', 'bool', 'date']);

function simpleEquality(f) {
  const conds = [];
  for (const [k, v] of Object.entries(f)) {
    if (k.startsWith('$') || !SIMPLE_TYPES.has(typeName(v))) return null;
    if (typeof v === 'number' && Number.isNaN(v)) return null;
    conds.push([k.split('.'), v]);
  }
  const test = (doc) => {
    for (const [parts, v] of conds) {
      let hit = false;
      for (const x of valuesAtPath(doc, parts)) {
        if (Array.isArray(x) ? x.some((el) => compare(el, v) === 0) : compare(x, v) === 0) {
          hit = true;
          break;
        }
      }
      if (!hit) return false;
    }
    return true;
  };
  // The same test on the raw document, which spares decoding a view (a partial
  // index's filter on every write). The constants are promoted values (never Long),
  // so compare() treats a raw Int32/Long/Double/Decimal128 exactly as the number the
  // view would hold. Returns undefined (ask test() on the view) where the two forms
  // could differ: the path runs through a non-plain object, or a value found is of
  // a type whose view differs in a way compare() could see (JS numbers, symbols, ...).
  test.testRaw = (raw) => {
    for (const [parts, v] of conds) {
      const found = [];
      if (!rawValuesAtPath(raw, parts, 0, found)) return undefined;
      let hit = false;
      for (const x of found) {
        if (Array.isArray(x)) {
          for (const el of x) if (!rawSafeLeaf(el)) return undefined;
          if (x.some((el) => compare(el, v) === 0)) hit = true;
        } else {
          if (!rawSafeLeaf(x)) return undefined;
          if (compare(x, v) === 0) hit = true;
        }
        if (hit) break;
      }
      if (!hit) return false;
    }
    return true;
  };
  return test;
}

function isPlainRaw(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype
    && v._bsontype === undefined;
}

// valuesAtPath on a raw document, or false when it would descend into anything but
// plain objects and arrays (a BSON value object, whose view may be a number).
function rawValuesAtPath(doc, parts, i, out) {
  if (i === parts.length) {
    out.push(doc);
    return true;
  }
  if (doc === null || typeof doc !== 'object') return true;
  if (Array.isArray(doc)) {
    const idx = /^\d+$/.test(parts[i]) ? Number(parts[i]) : -1;
    if (idx >= 0 && idx < doc.length && !rawValuesAtPath(doc[idx], parts, i + 1, out)) return false;
    for (const el of doc) {
      if (el !== null && typeof el === 'object' && !Array.isArray(el)) {
        if (!isPlainRaw(el)) return false;
        if (!rawValuesAtPath(el, parts, i, out)) return false;
      }
    }
    return true;
  }
  if (!isPlainRaw(doc)) return false;
  if (!Object.prototype.hasOwnProperty.call(doc, parts[i])) return true;
  return rawValuesAtPath(doc[parts[i]], parts, i + 1, out);
}

// Raw values that compare() sees exactly as their promoted view: the numeric types
// (compared by numberValue, which is the view's number), and types the view keeps
// as they are. Objects and arrays never equal a scalar constant in either form.
const RAW_SAFE = new Set(['Int32', 'Double', 'Long', 'Decimal128', 'ObjectId', 'Binary', 'Timestamp', 'MinKey', 'MaxKey', 'BSONRegExp']);

function rawSafeLeaf(x) {
  if (x === null || x === undefined || typeof x === 'string' || typeof x === 'boolean') return true;
  if (typeof x !== 'object') return false;
  if (Array.isArray(x)) return true;
  if (x._bsontype !== undefined) return RAW_SAFE.has(x._bsontype) && !(x._bsontype === 'Long' && x.unsigned);
  if (x instanceof Date) return x.constructor === Date;
  return Object.getPrototypeOf(x) === Object.prototype;
}

// Filters made of {field: {$in: [strings, numbers, booleans]}} on top-level fields (an
// _id or key list lookup, often hundreds of values), possibly with equalities to such
// values on other top-level fields: mingo's $in builds a hash set of the list for
// every document tested; this builds it once. Same result as mingo for these shapes:
// for $in a missing or null field matches nothing (the list has no null), an array
// field matches when one of its elements is in the list, and values compare as a JS
// Map compares keys; for an equality, the field or one of its elements is the value
// (Object.is, or ===).
function primitive(x) {
  const t = typeof x;
  return t === 'string' || t === 'number' || t === 'boolean';
}

function simpleIn(f) {
  const conds = [];
  let ins = 0;
  for (const [k, v] of Object.entries(f)) {
    if (k.startsWith('$') || k.includes('.') || k.includes('__proto__') || k === '') return null;
    if (primitive(v)) {
      conds.push([k, null, v]);
      continue;
    }
    if (!isPlainObject(v) || Object.getPrototypeOf(v) !== Object.prototype) return null;
    const ks = Object.keys(v);
    if (ks.length !== 1 || ks[0] !== '$in' || !Array.isArray(v.$in) || !v.$in.every(primitive)) return null;
    conds.push([k, new Set(v.$in), null]);
    ins++;
  }
  if (!ins) return null;
  const same = (x, want) => x === want || Object.is(x, want);
  const test = (doc) => {
    for (const [k, set, want] of conds) {
      const a = MINGO_PROTO_PROPS.has(k) && !Object.prototype.hasOwnProperty.call(doc, k) ? undefined : doc[k];
      if (set === null) {
        if (!(same(a, want) || (Array.isArray(a) && a.some((x) => same(x, want))))) return false;
        continue;
      }
      if (a === null || a === undefined) return false;
      if (Array.isArray(a)) {
        let hit = false;
        for (const x of a) {
          if (set.has(x)) {
            hit = true;
            break;
          }
        }
        if (!hit) return false;
      } else if (!set.has(a)) return false;
    }
    return true;
  };
  // The same test on the raw document: each top-level value (and array element) as
  // its view holds it (viewScalar); undefined (ask the view) for a value that has no
  // certain view here.
  test.testRaw = (raw) => {
    const view = {};
    for (const [k] of conds) {
      if (!Object.prototype.hasOwnProperty.call(raw, k)) continue;
      const v = raw[k];
      if (Array.isArray(v)) {
        const arr = new Array(v.length);
        for (let i = 0; i < v.length; i++) {
          const x = viewScalar(v[i]);
          if (x === UNSURE) return undefined;
          arr[i] = x;
        }
        view[k] = arr;
      } else {
        const x = viewScalar(v);
        if (x === UNSURE) return undefined;
        view[k] = x;
      }
    }
    return test(view);
  };
  return test;
}

// What a raw value's view is, as far as an equality or $in with primitive values can
// tell: numbers become the view's JS number; strings, booleans and null are
// themselves; objects, arrays and BSON values that stay objects in the view can only
// be told apart from primitives, so a stand-in object does. UNSURE otherwise.
const UNSURE = Symbol('unsure');
const OBJECT_STANDIN = Object.freeze({});
const VIEW_OBJECTS = new Set(['ObjectId', 'Binary', 'Timestamp', 'MinKey', 'MaxKey', 'BSONRegExp', 'DBRef', 'Code']);

function viewScalar(x) {
  if (x === null || typeof x === 'string' || typeof x === 'boolean') return x;
  if (typeof x !== 'object') return UNSURE;
  if (Array.isArray(x)) return OBJECT_STANDIN;
  switch (x._bsontype) {
    case undefined:
      return x instanceof Date || Object.getPrototypeOf(x) === Object.prototype ? OBJECT_STANDIN : UNSURE;
    case 'Int32': case 'Double': return x.value;
    case 'Long': return x.unsigned ? UNSURE : x.toNumber();
    case 'Decimal128': return parseFloat(x.toString());
    default: return VIEW_OBJECTS.has(x._bsontype) ? OBJECT_STANDIN : UNSURE;
  }
}

// ---- a raw twin of mingo for common filter shapes ----
// $and/$or of top-level fields compared with $eq (or a literal), $in, $lt, $lte, $gt,
// $gte against strings, numbers, booleans (and Dates for $eq and ranges): the outbox
// claim {$or: [{state, next_attempt_at: {$lte}}, {state, claimed_until: {$lt}}]}, CAS
// filters, key ranges. liteTest() mirrors what mingo does for these on a promoted
// view (its $eq, $in and comparison predicates, its type bracketing and ordering);
// testRaw builds that view's values from the raw document for the fields read
// (liteView) instead of decoding it all. null for any other shape.
const LITE_RANGE = { $lt: (c) => c < 0, $lte: (c) => c <= 0, $gt: (c) => c > 0, $gte: (c) => c >= 0 };

function liteOperand(x, dates) {
  return primitive(x) || (dates && x instanceof Date && x.constructor === Date);
}

// mingo's typeOf, for the values a lite view holds (primitives, Dates, stand-ins).
function liteType(v) {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return v instanceof Date ? 'date' : 'object';
}

// mingo's compare() for two values of the same liteType (number, string, boolean, date).
function liteCmp(a, b) {
  if (a === b || Object.is(a, b)) return 0;
  const x = a instanceof Date ? +a : a;
  const y = b instanceof Date ? +b : b;
  return x < y ? -1 : x > y ? 1 : 0;
}

// mingo's isEqual(v, b) for an operand b that is a primitive or a Date (mingo holds a
// copy of the filter, so a Date operand is never the document's own object).
function liteEqual(v, b) {
  if (b instanceof Date) return v !== null && typeof v === 'object' && v.constructor === b.constructor && v instanceof Date && +v === +b;
  return v === b || Object.is(v, b);
}

function compileLite(f) {
  const fields = new Set();
  const build = (cond) => {
    if (!isPlainObject(cond) || Object.getPrototypeOf(cond) !== Object.prototype) return null;
    const preds = [];
    for (const [k, v] of Object.entries(cond)) {
      if (k === '$and' || k === '$or') {
        if (!Array.isArray(v)) return null;
        const subs = v.map(build);
        if (subs.some((x) => x === null)) return null;
        preds.push(k === '$and' ? (doc) => subs.every((t) => t(doc)) : (doc) => subs.some((t) => t(doc)));
        continue;
      }
      if (k.startsWith('$') || k.includes('.') || k.includes('__proto__') || k === '') return null;
      fields.add(k);
      const get = MINGO_PROTO_PROPS.has(k)
        ? (doc) => (Object.prototype.hasOwnProperty.call(doc, k) ? doc[k] : undefined) : (doc) => doc[k];
      const ops = liteOperand(v, true) ? { $eq: v } : v;
      if (!isPlainObject(ops) || Object.getPrototypeOf(ops) !== Object.prototype) return null;
      const keys = Object.keys(ops);
      if (!keys.length || !keys.every((x) => x.startsWith('$'))) return null;
      for (const op of keys) {
        const b = ops[op];
        if (op === '$eq') {
          if (!liteOperand(b, true)) return null;
          preds.push((doc) => {
            const a = get(doc);
            return liteEqual(a, b) || (Array.isArray(a) && a.some((x) => liteEqual(x, b)));
          });
        } else if (op === '$in') {
          if (!Array.isArray(b) || !b.every(primitive)) return null;
          const set = new Set(b);
          preds.push((doc) => {
            const a = get(doc);
            if (a === null || a === undefined) return false;
            return Array.isArray(a) ? a.some((x) => set.has(x)) : set.has(a);
          });
        } else if (LITE_RANGE[op]) {
          if (!liteOperand(b, true)) return null;
          const ok = LITE_RANGE[op];
          const tb = liteType(b);
          preds.push((doc) => {
            const a = get(doc);
            for (const x of Array.isArray(a) ? a : [a]) if (liteType(x) === tb && ok(liteCmp(x, b))) return true;
            return false;
          });
        } else return null;
      }
    }
    return (doc) => preds.every((p) => p(doc));
  };
  const test = build(f);
  if (!test) return null;
  const names = [...fields];
  return {
    test,
    testRaw(raw) {
      const view = liteView(raw, names);
      return view === undefined ? undefined : test(view);
    },
  };
}

// The promoted values of raw's top-level fields in names, as far as liteTest can tell
// them apart: numbers, strings, booleans, null and Dates as the view holds them;
// other objects and nested arrays as a stand-in object. undefined when some value's
// view is not certain here.
function liteView(raw, names) {
  const view = {};
  for (const k of names) {
    if (!Object.prototype.hasOwnProperty.call(raw, k)) continue;
    const v = raw[k];
    if (Array.isArray(v)) {
      const arr = new Array(v.length);
      for (let i = 0; i < v.length; i++) {
        const x = liteLeaf(v[i]);
        if (x === UNSURE) return undefined;
        arr[i] = x;
      }
      view[k] = arr;
    } else {
      const x = liteLeaf(v);
      if (x === UNSURE) return undefined;
      view[k] = x;
    }
  }
  return view;
}

function liteLeaf(x) {
  if (x instanceof Date) return x.constructor === Date ? x : UNSURE;
  return viewScalar(x);
}

// Object.prototype's properties, which mingo's field lookup treats as missing unless
// the document has them itself.
const MINGO_PROTO_PROPS = new Set(Object.getOwnPropertyNames(Object.prototype));

function aggregate(pipelineView, docs, collectionResolver) {
  try {
    const agg = new mingo.Aggregator(pipelineView, { ...MINGO_OPTS, collectionResolver });
    return agg.run(docs);
  } catch (e) {
    throw mingoError(e);
  }
}

// ---- sort ----

function parseSort(sortRaw) {
  if (sortRaw == null) return null;
  if (!isPlainObject(sortRaw)) throw new CommandError(14, "Expected field sort to be of type object");
  const keys = [];
  for (const [k, v] of Object.entries(sortRaw)) {
    if (isPlainObject(v) && v.$meta !== undefined) throw new CommandError(2, '$meta sort is not supported by the test server');
    const d = numberValue(v);
    if (d !== 1 && d !== -1) throw new CommandError(15974, `Illegal key in $sort specification: ${k}: ${JSON.stringify(promote(v))}`);
    keys.push({ parts: k.split('.'), dir: d, natural: k === '$natural' });
  }
  return keys.length ? keys : null;
}

function sortKey(view, key) {
  const vals = [];
  for (const v of valuesAtPath(view, key.parts)) {
    if (Array.isArray(v)) {
      if (v.length === 0) vals.push(undefined);
      else vals.push(...v);
    } else vals.push(v);
  }
  if (vals.length === 0) return null;
  let best = vals[0];
  for (const v of vals) {
    const c = compare(v, best);
    if ((key.dir === 1 && c < 0) || (key.dir === -1 && c > 0)) best = v;
  }
  return best === undefined ? null : best;
}

// Sorts records by keys (docOf gives the document to read keys from). With a limit
// only the first `limit` are wanted: they are selected without sorting everything
// (a claim of 100 due items out of 100,000 should not sort 100,000).
function sortRecords(recs, keys, docOf, limit) {
  if (!keys) return recs;
  if (keys.length === 1 && keys[0].natural) return keys[0].dir === 1 ? recs : recs.slice().reverse();
  const cmp = (a, b) => {
    for (let j = 0; j < keys.length; j++) {
      const c = keys[j].natural ? a.k[j] - b.k[j] : compare(a.k[j], b.k[j]);
      if (c !== 0) return c * keys[j].dir;
    }
    return a.i - b.i;
  };
  const decorate = (rec, i) => ({ rec, i, k: keys.map((key) => (key.natural ? i : sortKey(docOf(rec), key))) });
  if (limit && limit * 8 < recs.length) {
    const top = [];
    for (let i = 0; i < recs.length; i++) {
      const d = decorate(recs[i], i);
      if (top.length === limit && cmp(d, top[limit - 1]) >= 0) continue;
      let lo = 0;
      let hi = top.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cmp(top[mid], d) <= 0) lo = mid + 1;
        else hi = mid;
      }
      top.splice(lo, 0, d);
      if (top.length > limit) top.pop();
    }
    return top.map((d) => d.rec);
  }
  const decorated = recs.map(decorate);
  decorated.sort(cmp);
  return decorated.map((d) => d.rec);
}

// ---- projection ----

// Returns null (no projection) or a function raw -> projected raw.
function compileProjection(projRaw) {
  if (projRaw == null) return null;
  if (!isPlainObject(projRaw)) throw new CommandError(14, "Expected field projection to be of type object");
  const keys = Object.keys(projRaw);
  if (keys.length === 0) return null;
  let mode = null; // 'include' | 'exclude'
  let idMode = true;
  const specials = [];
  let needMingo = false;
  for (const k of keys) {
    const v = projRaw[k];
    const t = typeName(v);
    if (t === 'bool' || t === 'int' || t === 'long' || t === 'double' || t === 'decimal') {
      const on = t === 'bool' ? v : numberValue(v) !== 0;
      if (k === '_id') {
        idMode = on;
        continue;
      }
      const m = on ? 'include' : 'exclude';
      if (mode && mode !== m) {
        throw new CommandError(mode === 'include' ? 31254 : 31253,
          mode === 'include' ? `Cannot do exclusion on field ${k} in inclusion projection`
            : `Cannot do inclusion on field ${k} in exclusion projection`);
      }
      mode = m;
    } else if (isPlainObject(v) && Object.keys(v).length === 1 && ('$slice' in v || '$elemMatch' in v)) {
      specials.push(k);
    } else {
      needMingo = true;
    }
  }
  if (needMingo || keys.some((k) => k.endsWith('.$'))) {
    const projView = promote(projRaw);
    return (raw) => {
      const view = promote(raw);
      let out;
      try {
        out = new mingo.Query({}, MINGO_OPTS).find([view], projView).all()[0];
      } catch (e) {
        throw mingoError(e);
      }
      return fromJsKeeping(out, view, raw);
    };
  }
  if (!mode) mode = 'exclude';
  const tree = {};
  for (const k of keys) {
    if (k === '_id' || specials.includes(k)) continue;
    let node = tree;
    const parts = k.split('.');
    for (let i = 0; i < parts.length; i++) {
      if (i === parts.length - 1) node[parts[i]] = true;
      else {
        if (node[parts[i]] === true) break;
        node = node[parts[i]] = node[parts[i]] || {};
      }
    }
  }
  return (raw) => {
    let out = mode === 'include' ? include(raw, tree) : exclude(raw, tree);
    if (mode === 'include' && idMode && raw._id !== undefined) out = { _id: raw._id, ...out };
    if (!idMode) delete out._id;
    for (const k of specials) applySpecial(out, raw, k, projRaw[k], mode);
    return out;
  };
}

function include(doc, tree) {
  const out = {};
  for (const k of Object.keys(doc)) {
    const t = tree[k];
    if (t === undefined) continue;
    if (t === true) out[k] = doc[k];
    else {
      const v = doc[k];
      if (Array.isArray(v)) out[k] = v.filter((el) => isPlainObject(el)).map((el) => include(el, t));
      else if (isPlainObject(v)) out[k] = include(v, t);
    }
  }
  return out;
}

function exclude(doc, tree) {
  const out = {};
  for (const k of Object.keys(doc)) {
    const t = tree[k];
    if (t === true) continue;
    const v = doc[k];
    if (t === undefined) out[k] = v;
    else if (Array.isArray(v)) out[k] = v.map((el) => (isPlainObject(el) ? exclude(el, t) : el));
    else if (isPlainObject(v)) out[k] = exclude(v, t);
    else out[k] = v;
  }
  return out;
}

function applySpecial(out, raw, path, spec, mode) {
  const parts = path.split('.');
  let src = raw;
  let dst = out;
  for (let i = 0; i < parts.length - 1; i++) {
    if (!isPlainObject(src)) return;
    src = src[parts[i]];
    if (!isPlainObject(dst[parts[i]])) {
      if (mode === 'include' && isPlainObject(src)) dst[parts[i]] = {};
      else return;
    }
    dst = dst[parts[i]];
  }
  const last = parts[parts.length - 1];
  const v = isPlainObject(src) ? src[last] : undefined;
  if ('$slice' in spec) {
    if (!Array.isArray(v)) {
      if (v !== undefined) dst[last] = v;
      return;
    }
    const s = spec.$slice;
    let start;
    let n;
    if (Array.isArray(s)) {
      start = numberValue(s[0]);
      n = numberValue(s[1]);
      if (start < 0) start = Math.max(0, v.length + start);
    } else {
      const c = numberValue(s);
      if (c >= 0) {
        start = 0;
        n = c;
      } else {
        start = Math.max(0, v.length + c);
        n = -c;
      }
    }
    dst[last] = v.slice(start, start + n);
  } else {
    if (!Array.isArray(v)) {
      delete dst[last];
      return;
    }
    const q = compileFilterRaw(spec.$elemMatch);
    const hit = v.find((el) => q.test(promote(el)));
    if (hit === undefined) delete dst[last];
    else dst[last] = [hit];
  }
}

module.exports = { compileFilter, compileFilterRaw, aggregate, parseSort, sortRecords, compileProjection, mingoError, MINGO_OPTS };
