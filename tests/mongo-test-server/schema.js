'use strict';
// Collection validators: $jsonSchema (MongoDB's draft-4 dialect, evaluated on raw BSON
// values so bsonType "int" and "long" are told apart) plus ordinary query operators
// (through mingo). Failures are described the way mongod's errInfo.details does.

const { typeName, numberValue, isNumeric, isPlainObject, equals, promote, fromJs } = require('./bsonutil');
const { CommandError } = require('./errors');

const BSON_TYPES = new Set([
  'double', 'string', 'object', 'array', 'binData', 'undefined', 'objectId', 'bool', 'date', 'null',
  'regex', 'dbPointer', 'javascript', 'symbol', 'javascriptWithScope', 'int', 'timestamp', 'long',
  'decimal', 'minKey', 'maxKey', 'number',
]);
const JSON_TYPES = new Set(['object', 'array', 'number', 'boolean', 'string', 'null']);

const KEYWORDS = new Set([
  'bsonType', 'type', 'required', 'properties', 'additionalProperties', 'patternProperties',
  'minProperties', 'maxProperties', 'enum', 'minimum', 'maximum', 'exclusiveMinimum',
  'exclusiveMaximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'uniqueItems',
  'items', 'additionalItems', 'allOf', 'anyOf', 'oneOf', 'not', 'dependencies', 'multipleOf',
  'description', 'title', 'encrypt', 'encryptMetadata',
]);

function bad(msg) {
  return new CommandError(9, msg);
}

// Check a schema once, when the validator is set, so a typo fails create/collMod
// instead of silently accepting everything.
function checkSchema(s, path) {
  if (!isPlainObject(s)) throw bad(`$jsonSchema ${path || 'schema'} must be an object`);
  for (const k of Object.keys(s)) {
    if (!KEYWORDS.has(k)) throw bad(`Unknown $jsonSchema keyword: ${k}`);
  }
  if ('type' in s && 'bsonType' in s) throw bad('Cannot specify both $jsonSchema keywords \'type\' and \'bsonType\'');
  const list = (v) => (Array.isArray(v) ? v : [v]);
  if ('bsonType' in s) {
    for (const t of list(s.bsonType)) {
      if (!BSON_TYPES.has(t)) throw bad(`Unknown type name alias: ${t}`);
    }
  }
  if ('type' in s) {
    for (const t of list(s.type)) {
      if (t === 'integer') throw bad("$jsonSchema type 'integer' is not currently supported.");
      if (!JSON_TYPES.has(t)) throw bad(`Unknown type name alias: ${t}`);
    }
  }
  if ('required' in s && (!Array.isArray(s.required) || s.required.some((x) => typeof x !== 'string'))) {
    throw bad("$jsonSchema keyword 'required' must be an array of strings");
  }
  if ('enum' in s && (!Array.isArray(s.enum) || s.enum.length === 0)) {
    throw bad("$jsonSchema keyword 'enum' cannot be an empty array");
  }
  if ('pattern' in s) {
    if (typeof s.pattern !== 'string') throw bad("$jsonSchema keyword 'pattern' must be a string");
    try {
      new RegExp(s.pattern, 'u');
    } catch (e) {
      throw bad(`$jsonSchema keyword 'pattern' is not a valid regular expression: ${e.message}`);
    }
  }
  for (const k of ['properties', 'patternProperties']) {
    if (k in s) {
      if (!isPlainObject(s[k])) throw bad(`$jsonSchema keyword '${k}' must be an object`);
      for (const [name, sub] of Object.entries(s[k])) checkSchema(sub, `${k}.${name}`);
    }
  }
  for (const k of ['additionalProperties', 'additionalItems']) {
    if (k in s && typeof s[k] !== 'boolean') checkSchema(s[k], k);
  }
  if ('items' in s) {
    if (Array.isArray(s.items)) s.items.forEach((sub, i) => checkSchema(sub, `items.${i}`));
    else checkSchema(s.items, 'items');
  }
  for (const k of ['allOf', 'anyOf', 'oneOf']) {
    if (k in s) {
      if (!Array.isArray(s[k]) || s[k].length === 0) throw bad(`$jsonSchema keyword '${k}' must be a non-empty array`);
      s[k].forEach((sub, i) => checkSchema(sub, `${k}.${i}`));
    }
  }
  if ('not' in s) checkSchema(s.not, 'not');
}

function typeMatches(t, v) {
  const actual = typeName(v);
  if (t === 'number') return isNumeric(v);
  return actual === t;
}

function jsonTypeMatches(t, v) {
  switch (t) {
    case 'object': return typeName(v) === 'object';
    case 'array': return Array.isArray(v);
    case 'number': return isNumeric(v);
    case 'boolean': return typeof v === 'boolean';
    case 'string': return typeof v === 'string';
    case 'null': return v === null;
    default: return false;
  }
}

// Returns the list of failed rules (mongod's schemaRulesNotSatisfied) for value v.
function evaluate(s, v) {
  const fails = [];
  const t = typeName(v);
  const list = (x) => (Array.isArray(x) ? x : [x]);
  const spec = (k) => ({ [k]: s[k] });

  if ('bsonType' in s && !list(s.bsonType).some((bt) => typeMatches(bt, v))) {
    fails.push({ operatorName: 'bsonType', specifiedAs: spec('bsonType'), reason: 'type did not match',
      consideredValue: v, consideredType: t });
    return fails; // nothing else is meaningful once the type is wrong
  }
  if ('type' in s && !list(s.type).some((jt) => jsonTypeMatches(jt, v))) {
    fails.push({ operatorName: 'type', specifiedAs: spec('type'), reason: 'type did not match',
      consideredValue: v, consideredType: t });
    return fails;
  }
  if ('enum' in s && !s.enum.some((e) => equals(e, v) && (typeName(e) === t || isNumeric(e) === isNumeric(v)))) {
    fails.push({ operatorName: 'enum', specifiedAs: spec('enum'), reason: 'value was not found in enum', consideredValue: v });
  }
  if (isNumeric(v)) {
    const n = numberValue(v);
    if ('minimum' in s) {
      const m = numberValue(s.minimum);
      if (s.exclusiveMinimum === true ? !(n > m) : !(n >= m)) {
        fails.push({ operatorName: 'minimum', specifiedAs: spec('minimum'), reason: 'comparison failed', consideredValue: v });
      }
    }
    if ('maximum' in s) {
      const m = numberValue(s.maximum);
      if (s.exclusiveMaximum === true ? !(n < m) : !(n <= m)) {
        fails.push({ operatorName: 'maximum', specifiedAs: spec('maximum'), reason: 'comparison failed', consideredValue: v });
      }
    }
    if ('multipleOf' in s) {
      const m = numberValue(s.multipleOf);
      if (m !== 0 && n % m !== 0) {
        fails.push({ operatorName: 'multipleOf', specifiedAs: spec('multipleOf'), reason: 'considered value is not a multiple of the specified value', consideredValue: v });
      }
    }
  }
  if (typeof v === 'string') {
    const len = [...v].length;
    if ('minLength' in s && len < numberValue(s.minLength)) {
      fails.push({ operatorName: 'minLength', specifiedAs: spec('minLength'), reason: 'specified string length was not satisfied', consideredValue: v });
    }
    if ('maxLength' in s && len > numberValue(s.maxLength)) {
      fails.push({ operatorName: 'maxLength', specifiedAs: spec('maxLength'), reason: 'specified string length was not satisfied', consideredValue: v });
    }
    if ('pattern' in s && !new RegExp(s.pattern, 'u').test(v)) {
      fails.push({ operatorName: 'pattern', specifiedAs: spec('pattern'), reason: 'regular expression did not match', consideredValue: v });
    }
  }
  if (t === 'object') evaluateObject(s, v, fails, spec);
  if (Array.isArray(v)) evaluateArray(s, v, fails, spec);

  if ('allOf' in s) {
    const not = [];
    s.allOf.forEach((sub, index) => {
      const f = evaluate(sub, v);
      if (f.length) not.push({ index, details: f });
    });
    if (not.length) fails.push({ operatorName: 'allOf', schemasNotSatisfied: not });
  }
  if ('anyOf' in s) {
    const res = s.anyOf.map((sub) => evaluate(sub, v));
    if (res.every((f) => f.length)) {
      fails.push({ operatorName: 'anyOf', schemasNotSatisfied: res.map((details, index) => ({ index, details })) });
    }
  }
  if ('oneOf' in s) {
    const res = s.oneOf.map((sub) => evaluate(sub, v));
    const ok = res.map((f, i) => (f.length ? -1 : i)).filter((i) => i >= 0);
    if (ok.length === 0) {
      fails.push({ operatorName: 'oneOf', schemasNotSatisfied: res.map((details, index) => ({ index, details })) });
    } else if (ok.length > 1) {
      fails.push({ operatorName: 'oneOf', reason: 'more than one subschema matched', matchingSchemaIndexes: ok });
    }
  }
  if ('not' in s && evaluate(s.not, v).length === 0) {
    fails.push({ operatorName: 'not', reason: 'child expression matched', childWithDescription: s.not });
  }
  return fails;
}

function evaluateObject(s, v, fails, spec) {
  const keys = Object.keys(v);
  if ('required' in s) {
    const missing = s.required.filter((k) => !Object.prototype.hasOwnProperty.call(v, k));
    if (missing.length) {
      fails.push({ operatorName: 'required', specifiedAs: spec('required'), missingProperties: missing });
    }
  }
  if ('minProperties' in s && keys.length < numberValue(s.minProperties)) {
    fails.push({ operatorName: 'minProperties', specifiedAs: spec('minProperties'), reason: 'specified number of properties was not satisfied', numberOfProperties: keys.length });
  }
  if ('maxProperties' in s && keys.length > numberValue(s.maxProperties)) {
    fails.push({ operatorName: 'maxProperties', specifiedAs: spec('maxProperties'), reason: 'specified number of properties was not satisfied', numberOfProperties: keys.length });
  }
  if ('properties' in s) {
    const notSat = [];
    for (const [name, sub] of Object.entries(s.properties)) {
      if (!Object.prototype.hasOwnProperty.call(v, name)) continue;
      const f = evaluate(sub, v[name]);
      if (f.length) {
        const entry = { propertyName: name };
        if (sub.description !== undefined) entry.description = sub.description;
        entry.details = f;
        notSat.push(entry);
      }
    }
    if (notSat.length) fails.push({ operatorName: 'properties', propertiesNotSatisfied: notSat });
  }
  const patterns = 'patternProperties' in s
    ? Object.entries(s.patternProperties).map(([p, sub]) => [new RegExp(p, 'u'), sub, p]) : [];
  if (patterns.length) {
    const notSat = [];
    for (const k of keys) {
      for (const [re, sub, p] of patterns) {
        if (!re.test(k)) continue;
        const f = evaluate(sub, v[k]);
        if (f.length) notSat.push({ propertyName: k, regexMatched: p, details: f });
      }
    }
    if (notSat.length) fails.push({ operatorName: 'patternProperties', details: notSat });
  }
  if ('additionalProperties' in s) {
    const declared = s.properties || {};
    const extra = keys.filter((k) => !Object.prototype.hasOwnProperty.call(declared, k) && !patterns.some(([re]) => re.test(k)));
    if (s.additionalProperties === false) {
      if (extra.length) {
        fails.push({ operatorName: 'additionalProperties', specifiedAs: spec('additionalProperties'), additionalProperties: extra });
      }
    } else if (s.additionalProperties !== true) {
      const notSat = [];
      for (const k of extra) {
        const f = evaluate(s.additionalProperties, v[k]);
        if (f.length) notSat.push({ propertyName: k, details: f });
      }
      if (notSat.length) fails.push({ operatorName: 'additionalProperties', reason: 'at least one additional property did not match the subschema', details: notSat });
    }
  }
  if ('dependencies' in s) {
    for (const [k, dep] of Object.entries(s.dependencies)) {
      if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
      if (Array.isArray(dep)) {
        const missing = dep.filter((d) => !Object.prototype.hasOwnProperty.call(v, d));
        if (missing.length) fails.push({ operatorName: 'dependencies', failingDependencies: [{ conditionalProperty: k, missingProperties: missing }] });
      } else {
        const f = evaluate(dep, v);
        if (f.length) fails.push({ operatorName: 'dependencies', failingDependencies: [{ conditionalProperty: k, details: f }] });
      }
    }
  }
}

function evaluateArray(s, v, fails, spec) {
  if ('minItems' in s && v.length < numberValue(s.minItems)) {
    fails.push({ operatorName: 'minItems', specifiedAs: spec('minItems'), reason: 'array did not match specified length', consideredValue: v });
  }
  if ('maxItems' in s && v.length > numberValue(s.maxItems)) {
    fails.push({ operatorName: 'maxItems', specifiedAs: spec('maxItems'), reason: 'array did not match specified length', consideredValue: v });
  }
  if (s.uniqueItems === true) {
    for (let i = 0; i < v.length; i++) {
      for (let j = i + 1; j < v.length; j++) {
        if (equals(v[i], v[j])) {
          fails.push({ operatorName: 'uniqueItems', specifiedAs: spec('uniqueItems'), reason: 'found a duplicate item', consideredValue: v, duplicatedValue: v[i] });
          i = v.length;
          break;
        }
      }
    }
  }
  if ('items' in s) {
    if (Array.isArray(s.items)) {
      for (let i = 0; i < Math.min(v.length, s.items.length); i++) {
        const f = evaluate(s.items[i], v[i]);
        if (f.length) {
          fails.push({ operatorName: 'items', reason: 'At least one item did not match the sub-schema', itemIndex: i, details: f });
          break;
        }
      }
      if ('additionalItems' in s && v.length > s.items.length) {
        if (s.additionalItems === false) {
          fails.push({ operatorName: 'additionalItems', specifiedAs: spec('additionalItems'), reason: 'found additional items', additionalItems: v.slice(s.items.length) });
        } else if (s.additionalItems !== true) {
          for (let i = s.items.length; i < v.length; i++) {
            const f = evaluate(s.additionalItems, v[i]);
            if (f.length) {
              fails.push({ operatorName: 'additionalItems', reason: 'At least one additional item did not match the sub-schema', itemIndex: i, details: f });
              break;
            }
          }
        }
      }
    } else {
      for (let i = 0; i < v.length; i++) {
        const f = evaluate(s.items, v[i]);
        if (f.length) {
          fails.push({ operatorName: 'items', reason: 'At least one item did not match the sub-schema', itemIndex: i, details: f });
          break;
        }
      }
    }
  }
}

// A schema compiled once into a predicate: check(v) is true exactly when evaluate(s, v)
// finds no failed rule. It mirrors evaluate() rule by rule (same tests, same order of
// precedence) without building the failure details; a validator runs it first and
// calls evaluate() only for a document that fails, to describe why.
function compileCheck(s) {
  const list = (x) => (Array.isArray(x) ? x : [x]);
  const checks = [];
  if ('bsonType' in s) {
    const types = list(s.bsonType);
    const number = types.includes('number');
    checks.push((v, t) => {
      for (let i = 0; i < types.length; i++) if (t === types[i]) return true;
      return number && isNumeric(v);
    });
  }
  if ('type' in s) {
    const types = list(s.type);
    checks.push((v) => types.some((jt) => jsonTypeMatches(jt, v)));
  }
  if ('enum' in s) {
    const values = s.enum;
    checks.push((v, t) => values.some((e) => equals(e, v) && (typeName(e) === t || isNumeric(e) === isNumeric(v))));
  }
  const num = [];
  if ('minimum' in s) {
    const m = numberValue(s.minimum);
    num.push(s.exclusiveMinimum === true ? (n) => n > m : (n) => n >= m);
  }
  if ('maximum' in s) {
    const m = numberValue(s.maximum);
    num.push(s.exclusiveMaximum === true ? (n) => n < m : (n) => n <= m);
  }
  if ('multipleOf' in s) {
    const m = numberValue(s.multipleOf);
    num.push((n) => !(m !== 0 && n % m !== 0));
  }
  if (num.length) {
    checks.push((v) => {
      if (!isNumeric(v)) return true;
      const n = numberValue(v);
      return num.every((c) => c(n));
    });
  }
  const str = [];
  if ('minLength' in s) {
    const m = numberValue(s.minLength);
    str.push((x) => [...x].length >= m);
  }
  if ('maxLength' in s) {
    const m = numberValue(s.maxLength);
    str.push((x) => [...x].length <= m);
  }
  if ('pattern' in s) {
    const re = new RegExp(s.pattern, 'u'); // no g/y flag: test() keeps no state
    str.push((x) => re.test(x));
  }
  if (str.length) checks.push((v) => typeof v !== 'string' || str.every((c) => c(v)));
  const obj = compileObjectCheck(s);
  if (obj) checks.push((v, t) => t !== 'object' || obj(v));
  const arr = compileArrayCheck(s);
  if (arr) checks.push((v) => !Array.isArray(v) || arr(v));
  if ('allOf' in s) {
    const subs = s.allOf.map(compileCheck);
    checks.push((v) => subs.every((c) => c(v)));
  }
  if ('anyOf' in s) {
    const subs = s.anyOf.map(compileCheck);
    checks.push((v) => subs.some((c) => c(v)));
  }
  if ('oneOf' in s) {
    const subs = s.oneOf.map(compileCheck);
    checks.push((v) => {
      let ok = 0;
      for (const c of subs) if (c(v)) ok++;
      return ok === 1;
    });
  }
  if ('not' in s) {
    const sub = compileCheck(s.not);
    checks.push((v) => !sub(v));
  }
  if (checks.length === 0) return () => true;
  if (checks.length === 1) {
    const only = checks[0];
    return (v) => only(v, typeName(v));
  }
  return (v) => {
    const t = typeName(v);
    for (let i = 0; i < checks.length; i++) if (!checks[i](v, t)) return false;
    return true;
  };
}

function compileObjectCheck(s) {
  const checks = [];
  const has = (v, k) => Object.prototype.hasOwnProperty.call(v, k);
  if ('required' in s) {
    const req = s.required;
    checks.push((v) => req.every((k) => has(v, k)));
  }
  if ('minProperties' in s) {
    const m = numberValue(s.minProperties);
    checks.push((v, keys) => !(keys.length < m));
  }
  if ('maxProperties' in s) {
    const m = numberValue(s.maxProperties);
    checks.push((v, keys) => !(keys.length > m));
  }
  if ('properties' in s) {
    const names = Object.keys(s.properties);
    const subs = names.map((name) => compileCheck(s.properties[name]));
    checks.push((v) => {
      for (let i = 0; i < names.length; i++) if (has(v, names[i]) && !subs[i](v[names[i]])) return false;
      return true;
    });
  }
  const patterns = 'patternProperties' in s
    ? Object.entries(s.patternProperties).map(([p, sub]) => [new RegExp(p, 'u'), compileCheck(sub)]) : [];
  if (patterns.length) {
    checks.push((v, keys) => {
      for (const k of keys) for (const [re, c] of patterns) if (re.test(k) && !c(v[k])) return false;
      return true;
    });
  }
  if ('additionalProperties' in s) {
    const declared = s.properties || {};
    const extra = (k) => !Object.prototype.hasOwnProperty.call(declared, k) && !patterns.some(([re]) => re.test(k));
    if (s.additionalProperties === false) {
      checks.push((v, keys) => !keys.some(extra));
    } else if (s.additionalProperties !== true) {
      const c = compileCheck(s.additionalProperties);
      checks.push((v, keys) => keys.every((k) => !extra(k) || c(v[k])));
    }
  }
  if ('dependencies' in s) {
    const deps = Object.entries(s.dependencies).map(([k, dep]) => [k, Array.isArray(dep) ? dep : compileCheck(dep)]);
    checks.push((v) => {
      for (const [k, dep] of deps) {
        if (!has(v, k)) continue;
        if (Array.isArray(dep) ? !dep.every((d) => has(v, d)) : !dep(v)) return false;
      }
      return true;
    });
  }
  if (!checks.length) return null;
  const needKeys = ['minProperties', 'maxProperties', 'patternProperties', 'additionalProperties'].some((k) => k in s);
  return (v) => {
    const keys = needKeys ? Object.keys(v) : null;
    for (let i = 0; i < checks.length; i++) if (!checks[i](v, keys)) return false;
    return true;
  };
}

function compileArrayCheck(s) {
  const checks = [];
  if ('minItems' in s) {
    const m = numberValue(s.minItems);
    checks.push((v) => !(v.length < m));
  }
  if ('maxItems' in s) {
    const m = numberValue(s.maxItems);
    checks.push((v) => !(v.length > m));
  }
  if (s.uniqueItems === true) {
    checks.push((v) => {
      for (let i = 0; i < v.length; i++) for (let j = i + 1; j < v.length; j++) if (equals(v[i], v[j])) return false;
      return true;
    });
  }
  if ('items' in s) {
    if (Array.isArray(s.items)) {
      const subs = s.items.map(compileCheck);
      checks.push((v) => {
        for (let i = 0; i < Math.min(v.length, subs.length); i++) if (!subs[i](v[i])) return false;
        return true;
      });
      if ('additionalItems' in s) {
        const n = s.items.length;
        if (s.additionalItems === false) checks.push((v) => !(v.length > n));
        else if (s.additionalItems !== true) {
          const c = compileCheck(s.additionalItems);
          checks.push((v) => {
            for (let i = n; i < v.length; i++) if (!c(v[i])) return false;
            return true;
          });
        }
      }
    } else {
      const c = compileCheck(s.items);
      checks.push((v) => v.every((x) => c(x)));
    }
  }
  if (!checks.length) return null;
  return (v) => checks.every((c) => c(v));
}

// For mingo: $jsonSchema inside a query (or nested in a validator's $and), where
// only the promoted view is at hand.
function mingoJsonSchemaValidator(schema) {
  checkSchema(schema);
  const check = compileCheck(schema);
  return (obj) => check(fromJs(obj));
}

// Compiles a collection validator. Returns validate(raw) -> null or errInfo.details.
function compileValidator(validator, makeQuery) {
  if (validator == null || (isPlainObject(validator) && Object.keys(validator).length === 0)) return null;
  if (!isPlainObject(validator)) throw new CommandError(2, "'validator' must be an object");
  let schema = null;
  const rest = {};
  for (const [k, v] of Object.entries(validator)) {
    if (k === '$jsonSchema') {
      checkSchema(v);
      schema = v;
    } else {
      rest[k] = v;
    }
  }
  const query = Object.keys(rest).length ? makeQuery(promote(rest)) : null;
  const check = schema ? compileCheck(schema) : null;
  return (raw, view) => {
    const clauses = [];
    if (schema && !check(raw)) {
      const f = evaluate(schema, raw);
      if (f.length) {
        const d = { operatorName: '$jsonSchema' };
        if (schema.title !== undefined) d.title = schema.title;
        d.schemaRulesNotSatisfied = f;
        clauses.push(d);
      }
    }
    if (query && !query.test(typeof view === 'function' ? view() : view || promote(raw), raw)) {
      clauses.push({ operatorName: '$and', specifiedAs: rest, reason: 'query predicate did not match the document' });
    }
    if (!clauses.length) return null;
    if (clauses.length === 1) return clauses[0];
    return { operatorName: '$and', clausesNotSatisfied: clauses.map((details, index) => ({ index, details })) };
  };
}

module.exports = { compileValidator, checkSchema, evaluate, compileCheck, mingoJsonSchemaValidator };
