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
  valuesAtPath, render, numberValue, promote, equals, compare,
} = require('./bsonutil');
const { CommandError } = require('./errors');
const { compileFilter, compileFilterRaw } = require('./query');
const { compileValidator } = require('./schema');
const { SortedList } = require('./sortedlist');

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
    // Nothing reads the entries of a non-unique partial or sparse index: lookups and
    // ordered reads use only full indexes (leadIndex, orderable) and only unique ones
    // are checked for conflicts. Such an index keeps no entries, as long as deciding
    // its partial filter cannot fail (then a write would have failed on it before):
    // filters of the shapes compiled to plain predicates (testRaw) cannot.
    this.inert = !this.unique && (this.partial ? !!this.partial.testRaw : this.sparse);
    this.full = new Map(); // composite key -> Set<Rec>
    this.lead = this.fields.length > 1 ? new Map() : this.full; // leading field key -> Set<Rec>
    this.dirs = this.fields.map((f) => (typeof spec.key[f] === 'string' ? 0 : Math.sign(numberValue(spec.key[f]))));
    this.multikey = false; // some document had an array in an indexed field
    // Entries in index order (ties by insertion), for range scans and ordered reads.
    this.sorted = new SortedList((a, b) => {
      for (let j = 0; j < this.dirs.length; j++) {
        const c = compare(a.k[j], b.k[j]);
        if (c !== 0) return this.dirs[j] < 0 ? -c : c;
      }
      return a.rec.seq - b.rec.seq;
    });
  }

  // Usable for ordered scans: every document has one entry, in a total order.
  get orderable() {
    return !this.multikey && !this.partial && !this.sparse && this.dirs.every((d) => d !== 0);
  }

  // Each entry: { key: composite string, lead: leading-field string, values: [...] }.
  entries(rec) {
    if (this.inert) return [];
    if (this.partial && !this.inPartial(rec)) return [];
    const view = rec.raw; // keyString compares raw numeric types by value
    let multi = false;
    const perField = this.parts.map((p) => {
      const vals = [];
      const found = valuesAtPath(view, p);
      if (found.length > 1) multi = true;
      for (const v of found) {
        if (Array.isArray(v)) {
          multi = true;
          if (v.length === 0) vals.push(undefined);
          else for (const el of v) vals.push(el);
        } else vals.push(v);
      }
      return vals;
    });
    if (multi) this.multikey = true;
    if (this.sparse && perField.every((vals) => vals.length === 0)) return [];
    if (!multi) {
      // One value (or none: null) per field: one entry, as the general case gives.
      const values = perField.map((vals) => (vals.length ? vals[0] : null));
      const keys = values.map(keyString);
      return [{ key: keys.join('\u0001'), lead: keys[0], values }];
    }
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

  // Does the partial filter take rec? On the raw document when the filter can say
  // so exactly (plain equalities), so a write need not decode the document's view.
  inPartial(rec) {
    if (this.partial.testRaw) {
      const r = this.partial.testRaw(rec.raw);
      if (r !== undefined) return r;
    }
    return this.partial.test(rec.view);
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
      this.sorted.add({ k: e.values, rec });
    }
  }

  remove(rec, entries) {
    for (const e of entries) {
      removeFrom(this.full, e.key, rec);
      if (this.lead !== this.full) removeFrom(this.lead, e.lead, rec);
      this.sorted.remove({ k: e.values, rec });
    }
  }

  dupError(e) {
    const ns = `${this.coll.db.name}.${this.coll.name}`;
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

  // A superset of the records matching f from the indexes, or null (scan everything).
  // Uses _id, equality/$in on an index's leading field, $and (the smallest branch)
  // and $or (the union, when every branch can use an index).
  candidates(f) {
    if (!isPlainObject(f)) return null;
    let best = null;
    const consider = (set) => {
      if (set && (!best || set.size < best.size)) best = set;
    };
    for (const [k, v] of Object.entries(f)) {
      if (k === '$and' && Array.isArray(v)) {
        for (const sub of v) consider(this.candidates(sub));
        continue;
      }
      if (k === '$or' && Array.isArray(v) && v.length) {
        const sets = v.map((sub) => this.candidates(sub));
        if (sets.every((x) => x)) {
          const union = new Set();
          for (const x of sets) for (const r of x) union.add(r);
          consider(union);
        }
        continue;
      }
      if (k.startsWith('$')) continue;
      let vals = null;
      let range = null;
      if (isIndexable(v)) vals = [v];
      else if (isPlainObject(v)) {
        const ks = Object.keys(v);
        if (ks.length && ks.every((x) => x.startsWith('$'))) {
          if ('$eq' in v && isIndexable(v.$eq)) vals = [v.$eq];
          else if ('$in' in v && Array.isArray(v.$in) && v.$in.every(isIndexable)) vals = v.$in;
          else {
            for (const [op, x] of Object.entries(v)) {
              if (!isIndexable(x)) continue;
              if (op === '$gt' || op === '$gte') (range = range || {}).lo = { v: x, ex: op === '$gt' };
              if (op === '$lt' || op === '$lte') (range = range || {}).hi = { v: x, ex: op === '$lt' };
            }
          }
        }
      }
      if (range && k !== '_id') {
        // A range on an ordered index's leading field: the entries in between.
        const idx = this.leadIndex(k);
        if (idx && idx.orderable) {
          const out = new Set();
          this.scanOrdered({ idx, p: 0, eq: [], range }, null, Infinity, out);
          consider(out);
        }
        continue;
      }
      if (!vals) continue;
      if (k === '_id') {
        const set = new Set();
        for (const x of vals) {
          const rec = this.docs.get(keyString(x));
          if (rec) set.add(rec);
        }
        return set; // exact and smallest
      }
      const idx = this.leadIndex(k);
      if (!idx) continue;
      const out = new Set();
      for (const x of vals) {
        const s2 = idx.lead.get(keyString(x));
        if (s2) for (const r of s2) out.add(r);
      }
      consider(out);
    }
    return best;
  }

  leadIndex(field) {
    for (const i of this.indexes.values()) if (i.fields[0] === field && !i.partial && !i.sparse) return i;
    return null;
  }

  // For find/findAndModify with a sort and a limit: a set of matching records that
  // surely holds the first `want` in sort order, read from an index in order instead
  // of matching and sorting the whole collection. null when no index fits: every
  // branch (of a top-level $or) needs an orderable index whose fields are equalities
  // of the branch, then the sort's first field in the same direction.
  orderedMatches(filter, sortKeys, want) {
    if (!sortKeys || !want || sortKeys[0].natural) return null;
    const f = filter.raw || filter.view;
    if (!isPlainObject(f)) return null;
    let branches;
    if (Array.isArray(f.$or) && f.$or.length) {
      const rest = { ...f };
      delete rest.$or;
      branches = f.$or.map((b) => (Object.keys(rest).length ? { $and: [rest, b] } : b));
    } else branches = [f];
    const plans = branches.map((b) => this.planOrdered(b, sortKeys[0]));
    if (plans.some((p) => !p)) return null;
    const out = new Set();
    for (const plan of plans) this.scanOrdered(plan, filter, want, out);
    return [...out];
  }

  planOrdered(branch, sortKey) {
    const conds = new Map();
    const walk = (c) => {
      if (!isPlainObject(c)) return false;
      for (const [k, v] of Object.entries(c)) {
        if (k === '$and' && Array.isArray(v)) {
          for (const sub of v) if (!walk(sub)) return false;
          continue;
        }
        if (k.startsWith('$')) continue;
        const cur = conds.get(k) || {};
        if (isIndexable(v)) cur.eq = v;
        else if (isPlainObject(v) && Object.keys(v).length && Object.keys(v).every((x) => x.startsWith('$'))) {
          for (const [op, x] of Object.entries(v)) {
            if (op === '$eq' && isIndexable(x)) cur.eq = x;
            else if ((op === '$gt' || op === '$gte') && isIndexable(x)) cur.lo = { v: x, ex: op === '$gt' };
            else if ((op === '$lt' || op === '$lte') && isIndexable(x)) cur.hi = { v: x, ex: op === '$lt' };
          }
        }
        conds.set(k, cur);
      }
      return true;
    };
    if (!walk(branch)) return null;
    const field = sortKey.parts.join('.');
    let best = null;
    for (const idx of this.indexes.values()) {
      if (!idx.orderable) continue;
      let p = 0;
      while (p < idx.fields.length && conds.get(idx.fields[p]) && conds.get(idx.fields[p]).eq !== undefined) p++;
      if (p >= idx.fields.length || idx.fields[p] !== field || idx.dirs[p] !== sortKey.dir) continue;
      if (!best || p > best.p) best = { idx, p, eq: idx.fields.slice(0, p).map((x) => conds.get(x).eq), range: conds.get(field) || {} };
    }
    return best;
  }

  scanOrdered(plan, filter, want, out) {
    const { idx, p, eq, range } = plan;
    const dir = idx.dirs[p];
    const prefix = (e) => {
      for (let j = 0; j < p; j++) {
        const c = compare(e.k[j], eq[j]);
        if (c !== 0) return idx.dirs[j] < 0 ? -c : c;
      }
      return 0;
    };
    // In scan order (dir), "low" is where the scan starts.
    const start = dir > 0 ? range.lo : range.hi;
    const end = dir > 0 ? range.hi : range.lo;
    const before = (e) => {
      const c = prefix(e);
      if (c !== 0) return c < 0;
      if (!start) return false;
      const d = compare(e.k[p], start.v) * dir;
      return d < 0 || (d === 0 && start.ex);
    };
    let found = 0;
    let last;
    for (const e of idx.sorted.from(before)) {
      if (prefix(e) !== 0) break;
      if (end) {
        const d = compare(e.k[p], end.v) * dir;
        if (d > 0 || (d === 0 && end.ex)) break;
      }
      if (found >= want && compare(e.k[p], last) !== 0) break; // past the ties of the last one
      const rec = e.rec;
      if (filter && !testRec(filter, rec)) continue;
      out.add(rec);
      found++;
      last = e.k[p];
    }
  }

  // Records matching a compiled filter, in natural order unless an index decided.
  match(filter) {
    const f = filter.raw || filter.view; // raw: exact int64 keys
    const set = this.candidates(f);
    const cands = set ? [...set] : null;
    if (cands && isPlainObject(f) && Object.keys(f).length === 1 && isIndexable(f._id)) {
      return cands; // the _id Map lookup is the whole filter: nothing to decode
    }
    const out = [];
    const test = (rec) => testRec(filter, rec);
    if (cands) {
      for (const rec of cands) if (test(rec)) out.push(rec);
      // index hits come back in natural order, as a scan would give them
      if (out.length > 1) out.sort((a, b) => a.seq - b.seq);
      return out;
    }
    if (filter.empty) return [...this.docs.values()];
    for (const rec of this.docs.values()) if (test(rec)) out.push(rec);
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
    const olds = plan.map(([idx]) => idx.entries(rec));
    rec.bytes = bytes;
    rec._raw = newRaw;
    rec._view = next._view;
    // An index whose entries for the document did not change is left alone (its
    // maps hold the same keys and its sorted list the same values at the same place).
    plan.forEach(([idx, entries], i) => {
      if (sameEntries(olds[i], entries)) return;
      idx.remove(rec, olds[i]);
      idx.add(rec, entries);
    });
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

// Does rec match the compiled filter? A filter that can decide on the raw document
// (testRaw) spares decoding the document's view; it answers undefined when unsure.
function testRec(filter, rec) {
  if (filter.testRaw) {
    const r = filter.testRaw(rec.raw);
    if (r !== undefined) return r;
  }
  return filter.test(rec.view, filter.needsRaw ? rec.raw : undefined);
}

function sameEntries(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.key !== y.key || x.lead !== y.lead || x.values.length !== y.values.length) return false;
    for (let j = 0; j < x.values.length; j++) if (!sameValue(x.values[j], y.values[j])) return false;
  }
  return true;
}

// Indistinguishable index values: the same value of the same BSON type.
function sameValue(x, y) {
  if (Object.is(x, y)) return true;
  if (x === null || y === null || typeof x !== 'object' || typeof y !== 'object' || x.constructor !== y.constructor) return false;
  if (x instanceof Date) return x.getTime() === y.getTime();
  switch (x._bsontype) {
    case 'Int32': case 'Double': return Object.is(x.value, y.value);
    case 'Long': return x.unsigned === y.unsigned && x.high === y.high && x.low === y.low;
    case 'ObjectId': return x.toHexString() === y.toHexString();
    default: return false;
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
