'use strict';
// Databases, collections, documents and indexes.
//
// A document is a record { id, bytes, raw, view }: bytes are what the client sent (or
// what an update produced) and are sent back unchanged; raw and view are decoded on
// demand and cached. The _id index is the collection's Map itself, so an _id lookup is
// one Map.get. Secondary indexes map canonical key strings to sets of records and are
// used for equality/$in lookups on their leading field; unique ones are enforced.

const crypto = require('crypto');
const {
  Binary, ObjectId, toRaw, toView, serialize, typeName, isPlainObject, keyString,
  valuesAtPath, render, numberValue, promote, equals,
} = require('./bsonutil');
const { CommandError } = require('./errors');
const { compileFilter, compileFilterRaw } = require('./query');
const { compileValidator } = require('./schema');

const MAX_DOC_SIZE = 16 * 1024 * 1024;

let recSeq = 0;

class Rec {
  constructor(id, bytes, raw) {
    this.seq = ++recSeq;
    this.id = id;
    this.bytes = bytes;
    this._raw = raw || null;
    this._view = null;
  }

  get raw() {
    if (!this._raw) this._raw = toRaw(this.bytes);
    return this._raw;
  }

  get view() {
    if (!this._view) this._view = toView(this.bytes);
    return this._view;
  }
}

function indexName(key) {
  return Object.entries(key).map(([k, v]) => `${k}_${typeof v === 'string' ? v : numberValue(v)}`).join('_');
}

class Index {
  constructor(coll, spec) {
    this.coll = coll;
    this.spec = spec; // raw spec as listIndexes returns it
    this.name = spec.name;
    this.fields = Object.keys(spec.key);
    this.parts = this.fields.map((f) => f.split('.'));
    this.unique = spec.unique === true;
    this.sparse = spec.sparse === true;
    this.partial = spec.partialFilterExpression ? compileFilterRaw(spec.partialFilterExpression) : null;
    this.full = new Map(); // composite key -> Set<Rec>
    this.lead = this.fields.length > 1 ? new Map() : this.full; // leading field key -> Set<Rec>
  }

  // Each entry: { key: composite string, lead: leading-field string, values: [...] }.
  entries(rec) {
    if (this.partial && !this.partial.test(rec.view)) return [];
    const view = rec.raw; // keyString compares raw numeric types by value
    const perField = this.parts.map((p) => {
      const vals = [];
      for (const v of valuesAtPath(view, p)) {
        if (Array.isArray(v)) {
          if (v.length === 0) vals.push(undefined);
          else for (const el of v) vals.push(el);
        } else vals.push(v);
      }
      return vals;
    });
    if (this.sparse && perField.every((vals) => vals.length === 0)) return [];
    const combos = [[]];
    for (const vals of perField) {
      const choices = vals.length ? vals : [null];
      const next = [];
      for (const c of combos) for (const v of choices) next.push([...c, v]);
      combos.splice(0, combos.length, ...next);
    }
    const seen = new Set();
    const out = [];
    for (const values of combos) {
      const key = values.map(keyString).join('\u0001');
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ key, lead: keyString(values[0]), values });
    }
    return out;
  }

  conflict(entries, self) {
    if (!this.unique) return null;
    for (const e of entries) {
      const set = this.full.get(e.key);
      if (!set) continue;
      for (const other of set) if (other !== self) return e;
    }
    return null;
  }

  add(rec, entries) {
    for (const e of entries) {
      addTo(this.full, e.key, rec);
      if (this.lead !== this.full) addTo(this.lead, e.lead, rec);
    }
  }

  remove(rec, entries) {
    for (const e of entries) {
      removeFrom(this.full, e.key, rec);
      if (this.lead !== this.full) removeFrom(this.lead, e.lead, rec);
    }
  }

  dupError(e) {
    const ns = `${this.coll.db.name}.${this.coll.name}`;
    const keyValue = {};
    this.fields.forEach((f, i) => {
      keyValue[f] = e.values[i] === undefined ? null : e.values[i];
    });
    const shown = this.fields.map((f, i) => `${f}: ${render(e.values[i])}`).join(', ');
    return new CommandError(11000,
      `E11000 duplicate key error collection: ${ns} index: ${this.name} dup key: { ${shown} }`,
      { keyPattern: this.spec.key, keyValue: rawKeyValue(this, e) });
  }
}

// keyValue in the reply keeps the document's own BSON types.
function rawKeyValue(index, e) {
  const out = {};
  index.fields.forEach((f, i) => {
    const v = e.values[i];
    out[f] = v === undefined ? null : v;
  });
  return out;
}

function addTo(map, key, rec) {
  let s = map.get(key);
  if (!s) map.set(key, (s = new Set()));
  s.add(rec);
}

function removeFrom(map, key, rec) {
  const s = map.get(key);
  if (!s) return;
  s.delete(rec);
  if (s.size === 0) map.delete(key);
}

class Collection {
  constructor(db, name, options) {
    this.db = db;
    this.name = name;
    this.uuid = options && options.uuid ? options.uuid : new Binary(crypto.randomBytes(16), 4);
    this.docs = new Map(); // keyString(_id) -> Rec, in insertion (natural) order
    this.indexes = new Map(); // name -> Index (without _id_)
    this.options = {};
    this.validate = null;
    this.setOptions(options || {});
  }

  get ns() {
    return `${this.db.name}.${this.name}`;
  }

  // validator, validationLevel, validationAction, changeStreamPreAndPostImages.
  setOptions(opts) {
    const next = { ...this.options };
    for (const k of ['validator', 'validationLevel', 'validationAction', 'changeStreamPreAndPostImages']) {
      if (opts[k] !== undefined) next[k] = opts[k];
    }
    if (next.validationLevel !== undefined && !['off', 'moderate', 'strict'].includes(next.validationLevel)) {
      throw new CommandError(2, `Enumeration value '${next.validationLevel}' for field 'validationLevel' is not a valid value.`);
    }
    if (next.validationAction !== undefined && !['error', 'warn'].includes(next.validationAction)) {
      throw new CommandError(2, `Enumeration value '${next.validationAction}' for field 'validationAction' is not a valid value.`);
    }
    const validate = compileValidator(next.validator, (v) => compileFilter(v));
    if (next.validator !== undefined && validate) {
      if (next.validationLevel === undefined) next.validationLevel = 'strict';
      if (next.validationAction === undefined) next.validationAction = 'error';
    }
    this.options = next;
    this.validate = validate;
  }

  get prePostImages() {
    const o = this.options.changeStreamPreAndPostImages;
    return !!(o && o.enabled === true);
  }

  infoDoc() {
    const options = {};
    for (const k of ['validator', 'validationLevel', 'validationAction', 'changeStreamPreAndPostImages']) {
      if (this.options[k] !== undefined) options[k] = this.options[k];
    }
    return {
      name: this.name,
      type: 'collection',
      options,
      info: { readOnly: false, uuid: this.uuid },
      idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
    };
  }

  indexSpecs() {
    return [{ v: 2, key: { _id: 1 }, name: '_id_' }, ...[...this.indexes.values()].map((i) => i.spec)];
  }

  // ---- index management ----

  // Returns true if created, false if an identical index exists.
  createIndex(specIn) {
    if (!isPlainObject(specIn) || !isPlainObject(specIn.key) || Object.keys(specIn.key).length === 0) {
      throw new CommandError(2, 'Index key pattern must be a non-empty object');
    }
    for (const [f, v] of Object.entries(specIn.key)) {
      if (typeof v === 'string' && v !== 'hashed') {
        throw new CommandError(67, ['text', '2d', '2dsphere', 'geoHaystack', 'wildcard'].includes(v)
          ? `'${v}' indexes are not supported by the ticketsync MongoDB test server`
          : `Unknown index plugin '${v}'`);
      }
      if (v === 'hashed' && specIn.unique === true) {
        throw new CommandError(67, 'Currently hashed indexes cannot guarantee uniqueness. Use a regular index.');
      }
      if (typeof v !== 'string' && (numberValue(v) === 0 || Number.isNaN(numberValue(v)))) {
        throw new CommandError(67, `Values in v:2 index key pattern cannot be of type ${typeName(v)}. Only numbers > 0, numbers < 0, and strings are allowed.`);
      }
      if (f === '') throw new CommandError(67, 'Index keys cannot be an empty field.');
    }
    const name = typeof specIn.name === 'string' ? specIn.name : indexName(specIn.key);
    const spec = { v: 2, key: specIn.key, name };
    for (const k of ['unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds', 'collation', 'hidden']) {
      if (specIn[k] !== undefined) spec[k] = specIn[k];
    }
    const isId = Object.keys(spec.key).length === 1 && spec.key._id !== undefined;
    if (isId || name === '_id_') {
      if (isId && (name === '_id_' || specIn.name === undefined)) return false;
      throw new CommandError(isId ? 85 : 86, isId ? `Index already exists with a different name: _id_` : 'cannot create an index named _id_ on other keys');
    }
    const sameKey = [...this.indexes.values()].find((i) => sameKeyPattern(i.spec.key, spec.key));
    const sameName = this.indexes.get(name);
    if (sameName) {
      if (sameKeyPattern(sameName.spec.key, spec.key) && sameOptions(sameName.spec, spec)) return false;
      if (!sameKeyPattern(sameName.spec.key, spec.key)) {
        throw new CommandError(86, `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${render(spec)}, existing index: ${render(sameName.spec)}`);
      }
      throw new CommandError(85, `An equivalent index already exists with the same name but different options. Requested index: ${render(spec)}, existing index: ${render(sameName.spec)}`);
    }
    if (sameKey && sameOptions(sameKey.spec, spec)) {
      throw new CommandError(85, `Index already exists with a different name: ${sameKey.name}`);
    }
    const idx = new Index(this, spec);
    for (const rec of this.docs.values()) {
      const entries = idx.entries(rec);
      const c = idx.conflict(entries, rec);
      if (c) throw idx.dupError(c);
      idx.add(rec, entries);
    }
    this.indexes.set(name, idx);
    return true;
  }

  dropIndex(name) {
    if (name === '_id_') throw new CommandError(72, 'cannot drop _id index');
    if (!this.indexes.has(name)) throw new CommandError(27, `index not found with name [${name}]`);
    this.indexes.delete(name);
  }

  findIndexByKey(key) {
    if (Object.keys(key).length === 1 && key._id !== undefined) return '_id_';
    const i = [...this.indexes.values()].find((x) => sameKeyPattern(x.spec.key, key));
    return i ? i.name : null;
  }

  // ---- planning: the smallest candidate set an index gives for a filter ----

  candidates(filterView) {
    const eqs = [];
    const collect = (f) => {
      for (const [k, v] of Object.entries(f)) {
        if (k === '$and' && Array.isArray(v)) {
          for (const sub of v) if (isPlainObject(sub)) collect(sub);
          continue;
        }
        if (k.startsWith('$')) continue;
        let vals = null;
        if (isIndexable(v)) vals = [v];
        else if (isPlainObject(v)) {
          const ks = Object.keys(v);
          if (ks.length && ks.every((x) => x.startsWith('$'))) {
            if ('$eq' in v && isIndexable(v.$eq)) vals = [v.$eq];
            else if ('$in' in v && Array.isArray(v.$in) && v.$in.every(isIndexable)) vals = v.$in;
          }
        }
        if (vals) eqs.push({ field: k, vals });
      }
    };
    if (isPlainObject(filterView)) collect(filterView);
    let best = null;
    for (const { field, vals } of eqs) {
      let set;
      if (field === '_id') {
        set = [];
        for (const v of vals) {
          const rec = this.docs.get(keyString(v));
          if (rec && !set.includes(rec)) set.push(rec);
        }
        return set;
      }
      const idx = [...this.indexes.values()].find((i) => i.fields[0] === field && !i.partial && !i.sparse);
      if (!idx) continue;
      const out = new Set();
      for (const v of vals) {
        const s = idx.lead.get(keyString(v));
        if (s) for (const r of s) out.add(r);
      }
      if (!best || out.size < best.size) best = out;
    }
    return best ? [...best] : null; // null: full scan
  }

  // Records matching a compiled filter, in natural order unless an index decided.
  match(filter) {
    const f = filter.raw || filter.view; // raw: exact int64 keys
    const cands = this.candidates(f);
    if (cands && isPlainObject(f) && Object.keys(f).length === 1 && isIndexable(f._id)) {
      return cands; // the _id Map lookup is the whole filter: nothing to decode
    }
    const out = [];
    if (cands) {
      for (const rec of cands) if (filter.test(rec.view, filter.needsRaw ? rec.raw : undefined)) out.push(rec);
      // index hits come back in natural order, as a scan would give them
      if (out.length > 1) out.sort((a, b) => a.seq - b.seq);
      return out;
    }
    if (filter.empty) return [...this.docs.values()];
    for (const rec of this.docs.values()) if (filter.test(rec.view, filter.needsRaw ? rec.raw : undefined)) out.push(rec);
    return out;
  }

  get(id) {
    return this.docs.get(keyString(id)) || null;
  }

  // ---- writes (the caller handles events and persistence via store hooks) ----

  // rec: the document as it would be written (its view is decoded only if a query
  // validator needs it).
  checkValidation(rec, oldRec, bypass) {
    if (!this.validate || bypass) return;
    const level = this.options.validationLevel || 'strict';
    if (level === 'off') return;
    if (level === 'moderate' && oldRec && this.validate(oldRec.raw, () => oldRec.view) !== null) return;
    const raw = rec.raw;
    const details = this.validate(raw, () => rec.view);
    if (!details) return;
    const errInfo = { failingDocumentId: raw._id, details };
    if ((this.options.validationAction || 'error') === 'warn') {
      this.db.store.log.warn(`Document would fail validation collection: ${this.ns} ${JSON.stringify({ failingDocumentId: promote(raw._id), details: promote(details) })}`);
      return;
    }
    throw new CommandError(121, 'Document failed validation', { errInfo });
  }

  // Inserts one document given as raw object (bytes optional: the exact encoding of raw).
  insert(raw, bytes, bypass) {
    if (raw._id === undefined) {
      raw = { _id: new ObjectId(), ...raw };
      bytes = null;
    } else if (Object.keys(raw)[0] !== '_id') {
      const { _id, ...rest } = raw;
      raw = { _id, ...rest };
      bytes = null;
    }
    checkId(raw._id);
    if (!bytes) bytes = serialize(raw);
    if (bytes.length > MAX_DOC_SIZE) throw new CommandError(10334, `object to insert too large. size in bytes: ${bytes.length}, max size: ${MAX_DOC_SIZE}`);
    const key = keyString(raw._id);
    const rec = new Rec(raw._id, bytes, raw);
    if (this.docs.has(key)) {
      throw new CommandError(11000, `E11000 duplicate key error collection: ${this.ns} index: _id_ dup key: { _id: ${render(raw._id)} }`,
        { keyPattern: { _id: 1 }, keyValue: { _id: raw._id } });
    }
    this.checkValidation(rec, null, bypass);
    const plan = this.planIndexes(rec, null);
    this.docs.set(key, rec);
    for (const [idx, entries] of plan) idx.add(rec, entries);
    this.db.store.onWrite({ op: 'insert', coll: this, rec });
    return rec;
  }

  planIndexes(rec, oldRec) {
    const plan = [];
    for (const idx of this.indexes.values()) {
      const entries = idx.entries(rec);
      const c = idx.conflict(entries, oldRec);
      if (c) throw idx.dupError(c);
      plan.push([idx, entries]);
    }
    return plan;
  }

  // Replaces rec's content with newRaw. Returns false if nothing changed.
  replace(rec, newRaw, opts) {
    const bytes = serialize(newRaw);
    if (bytes.equals(rec.bytes)) return false;
    if (bytes.length > MAX_DOC_SIZE) throw new CommandError(17419, `Resulting document after update is larger than ${MAX_DOC_SIZE}`);
    const next = new Rec(rec.id, bytes, newRaw);
    this.checkValidation(next, rec, opts.bypass);
    const plan = this.planIndexes(next, rec);
    const oldBytes = rec.bytes;
    const oldRaw = rec.raw;
    for (const idx of this.indexes.values()) idx.remove(rec, idx.entries(rec));
    rec.bytes = bytes;
    rec._raw = newRaw;
    rec._view = next._view;
    for (const [idx, entries] of plan) idx.add(rec, entries);
    this.db.store.onWrite({ op: opts.replacement ? 'replace' : 'update', coll: this, rec, oldRaw, oldBytes });
    return true;
  }

  remove(rec) {
    for (const idx of this.indexes.values()) idx.remove(rec, idx.entries(rec));
    this.docs.delete(keyString(rec.id));
    this.db.store.onWrite({ op: 'delete', coll: this, rec });
  }

  // Replay from persistence: no validation, no events.
  loadDoc(bytes) {
    const raw = toRaw(bytes);
    const rec = new Rec(raw._id, bytes, raw);
    const key = keyString(raw._id);
    const old = this.docs.get(key);
    if (old) for (const idx of this.indexes.values()) idx.remove(old, idx.entries(old));
    this.docs.set(key, rec);
    for (const idx of this.indexes.values()) idx.add(rec, idx.entries(rec));
  }

  unloadDoc(id) {
    const rec = this.get(id);
    if (!rec) return;
    for (const idx of this.indexes.values()) idx.remove(rec, idx.entries(rec));
    this.docs.delete(keyString(id));
  }
}

function isIndexable(v) {
  const t = typeName(v);
  return t === 'string' || t === 'int' || t === 'double' || t === 'long' || t === 'objectId' || t === 'date' || t === 'bool';
}

function checkId(id) {
  const t = typeName(id);
  if (t === 'array') throw new CommandError(2, "can't use an array for _id");
  if (t === 'regex') throw new CommandError(2, "can't use a regex for _id");
  if (t === 'undefined') throw new CommandError(2, "can't use a undefined for _id");
}

function sameKeyPattern(a, b) {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && equals(a[k], b[k]));
}

function sameOptions(a, b) {
  for (const k of ['unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds']) {
    const x = a[k];
    const y = b[k];
    if (x === undefined && y === undefined) continue;
    if (k === 'unique' || k === 'sparse') {
      if (!!x !== !!y) return false;
      continue;
    }
    if (x === undefined || y === undefined || !equals(x, y)) return false;
  }
  return true;
}

class Database {
  constructor(store, name) {
    this.store = store;
    this.name = name;
    this.collections = new Map();
  }
}

class Store {
  constructor(log) {
    this.log = log;
    this.dbs = new Map();
    this.writeHook = null; // (change) => void, set by the engine
  }

  onWrite(change) {
    if (this.writeHook) this.writeHook(change);
  }

  db(name, create) {
    let d = this.dbs.get(name);
    if (!d && create) {
      checkDbName(name);
      d = new Database(this, name);
      this.dbs.set(name, d);
    }
    return d || null;
  }

  coll(dbName, name, create) {
    const d = this.db(dbName, create);
    if (!d) return null;
    let c = d.collections.get(name);
    if (!c && create) {
      checkCollName(name);
      c = new Collection(d, name, {});
      d.collections.set(name, c);
      if (this.createHook) this.createHook(c);
    }
    return c || null;
  }

  dropCollection(dbName, name) {
    const d = this.db(dbName, false);
    if (!d) return null;
    const c = d.collections.get(name);
    if (!c) return null;
    d.collections.delete(name);
    if (d.collections.size === 0) this.dbs.delete(dbName);
    return c;
  }
}

function checkDbName(name) {
  if (typeof name !== 'string' || name.length === 0 || /[/\\. "$\0]/.test(name) || name.length > 63) {
    throw new CommandError(73, `Invalid database name: '${name}'`);
  }
}

function checkCollName(name) {
  if (typeof name !== 'string' || name.length === 0) throw new CommandError(73, `Invalid collection name: ${name}`);
  if (name.includes('$') || name.includes('\0')) throw new CommandError(73, `Invalid collection name: ${name}`);
  if (name.startsWith('system.')) throw new CommandError(73, `Invalid collection name: ${name}`);
}

module.exports = { Store, Collection, Rec, MAX_DOC_SIZE, sameKeyPattern };
