'use strict';
// A stand-in for the parts of ExtraHop's trigger runtime that ticketsync-trigger.js
// touches, so the trigger can run under Node (18.20 or newer, no npm packages):
//
// - `Detection`, `event`, `log`, `debug` as globals of a fresh vm context per run (the
//   trigger sees no Node globals: no require, no process);
// - `Remote.MongoDB` / `Remote.MongoDB(target)` and `Remote.HTTP(target)` that record
//   every call instead of sending it;
// - `Device`, `IPAddress` and `Application` classes whose instances behave like the
//   runtime's live objects: state behind getters, methods, and back references (an
//   address knows its device, the device its addresses): copied as they are
//   (JSON.stringify) they lose their data, so the trigger must flatten them.
//
// The recorder accepts only plain data (null, booleans, finite numbers, strings, plain
// arrays and objects), because that is all the ODS target can serialise: a live
// object, undefined, NaN or a function inside a write throws.

const fs = require('fs');
const path = require('path');
const vm = require('vm');

const TRIGGER_PATH = path.join(__dirname, '..', 'ticketsync-trigger.js');

const hidden = new WeakMap();

class Device {
  constructor(id, discoveryId, opts) {
    hidden.set(this, { id, discoveryId, addrs: [], external: !!(opts && opts.external) });
  }
  get id() { return hidden.get(this).id; }
  get discoveryId() { return hidden.get(this).discoveryId; }
  get ipaddrs() { return hidden.get(this).addrs.slice(); }
  get isExternal() { return hidden.get(this).external; }
  addAddress(ip) {
    hidden.get(this).addrs.push(ip);
    hidden.get(ip).device = this;
    return this;
  }
  equals(other) { return other instanceof Device && other.discoveryId === this.discoveryId; }
  toString() { return '[object Device]'; }
}

class IPAddress {
  constructor(addr, opts) {
    hidden.set(this, { addr, device: null, external: !!(opts && opts.external),
      hostNames: (opts && opts.hostNames) || [] });
  }
  get isV4() { return hidden.get(this).addr.indexOf(':') < 0; }
  get isV6() { return !this.isV4; }
  get isExternal() { return hidden.get(this).external; }
  get hostNames() { return hidden.get(this).hostNames.slice(); }
  get device() { return hidden.get(this).device; }
  equals(other) { return other instanceof IPAddress && String(other) === String(this); }
  toString() { return hidden.get(this).addr; }
}

class Application {
  constructor(id) { hidden.set(this, { id }); }
  get id() { return hidden.get(this).id; }
  toString() { return '[object Application]'; }
}

// The runtime's list objects are array-like but not arrays.
function liveList(items) {
  const o = Object.create({ item(i) { return this[i]; } });
  items.forEach((v, i) => { o[i] = v; });
  Object.defineProperty(o, 'length', { value: items.length });
  return o;
}

function isPlainObject(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === null || Object.getPrototypeOf(proto) === null; // realm-independent
}

// Throws unless v is plain data; returns a deep copy owned by this realm.
function plainCopy(v, where) {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`${where}: ${v} cannot be stored`);
    return v;
  }
  if (Array.isArray(v)) {
    // Built here, not with v.map(): that would make an array of the trigger's realm.
    const out = [];
    for (let i = 0; i < v.length; i++) out.push(plainCopy(v[i], `${where}[${i}]`));
    return out;
  }
  if (isPlainObject(v)) {
    const out = {};
    for (const k of Object.keys(v)) out[k] = plainCopy(v[k], `${where}.${k}`);
    return out;
  }
  const what = v === undefined ? 'undefined' : typeof v === 'function' ? 'a function'
    : `a live ${Object.getPrototypeOf(v) && Object.getPrototypeOf(v).constructor
      ? Object.getPrototypeOf(v).constructor.name : 'object'}`;
  throw new TypeError(`${where}: ${what} cannot be sent through an open data stream`);
}

function makeRemote(rec) {
  function mongoTarget(target) {
    const call = (method, args) => {
      rec.mongo.push({ target, method, args: args.map((a, i) => plainCopy(a, `${method} argument ${i + 1}`)) });
    };
    return {
      insert(collection, docs) { call('insert', [collection, docs]); },
      update(collection, query, update, options) {
        call('update', options === undefined ? [collection, query, update] : [collection, query, update, options]);
      },
      remove(collection, query, justOnce) {
        call('remove', justOnce === undefined ? [collection, query] : [collection, query, justOnce]);
      },
    };
  }
  const MongoDB = function (target) {
    if (typeof target !== 'string' || target === '') throw new TypeError('Remote.MongoDB(name): name must be a non-empty string');
    return mongoTarget(target);
  };
  Object.assign(MongoDB, mongoTarget(null));
  const HTTP = function (target) {
    if (typeof target !== 'string' || target === '') throw new TypeError('Remote.HTTP(name): name must be a non-empty string');
    const call = (method, req) => {
      rec.http.push({ target, method, req: plainCopy(req, `Remote.HTTP.${method} request`) });
    };
    return {
      request(method, req) { call(method, req); },
      get(req) { call('get', req); },
      post(req) { call('post', req); },
      put(req) { call('put', req); },
      patch(req) { call('patch', req); },
      delete(req) { call('delete', req); },
    };
  };
  return { MongoDB, HTTP };
}

// The trigger's source with settings changed as a user would edit them: each
// `var NAME = ...;` line must exist exactly once.
function triggerSource(settings) {
  let src = fs.readFileSync(TRIGGER_PATH, 'utf8');
  for (const [name, value] of Object.entries(settings || {})) {
    const re = new RegExp(`^var ${name} = [^\\n]*;$`, 'gm');
    const n = (src.match(re) || []).length;
    if (n !== 1) throw new Error(`trigger setting ${name}: found ${n} definitions, expected 1`);
    src = src.replace(re, `var ${name} = ${JSON.stringify(value)};`);
  }
  return src;
}

// Run the trigger once, as the runtime does for one event. Returns what it sent.
function runTrigger(detection, opts) {
  const o = opts || {};
  const rec = { mongo: [], http: [], log: [] };
  const context = vm.createContext({
    Detection: detection,
    event: o.event || 'DETECTION_UPDATE',
    Remote: makeRemote(rec),
    Device,
    IPAddress,
    Application,
    log: (m) => rec.log.push(String(m)),
    debug: (m) => rec.log.push(String(m)),
  });
  const script = o.script || new vm.Script(triggerSource(o.settings), { filename: TRIGGER_PATH });
  script.runInContext(context, { timeout: 5000 });
  return rec;
}

function compile(settings) {
  return new vm.Script(triggerSource(settings), { filename: TRIGGER_PATH });
}

module.exports = {
  Device, IPAddress, Application, liveList, plainCopy, isPlainObject,
  triggerSource, runTrigger, compile, TRIGGER_PATH,
};
