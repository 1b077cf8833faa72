// ticketsync: ExtraHop trigger for the DETECTION_UPDATE event.
//
// Writes one document per detection into MongoDB through the ODS MongoDB target:
//   Remote.MongoDB.update("<DB>.detections", {_id: Detection.id}, {$set: {...}}, {upsert: true})
// with the field names of ExtraHop's REST API (snake_case), which is what ticketsyncd
// reads (schema/detections.json in the ticketsync sources). Setup: README.md next to
// this file.
//
// ODS writes are fire-and-forget: the trigger never learns whether one landed. So the
// trigger writes what it has and leaves judging to ticketsyncd, which reports a
// malformed detection in its log and audit trail instead of it vanishing here.
//
// It writes nothing else: tickets are created by ticketsyncd ([create] in
// ticketsync.ini), durably and exactly once, not fire-and-forget from here.
//
// Written in plain ES5 so that any trigger engine runs it.

// ---- Settings -------------------------------------------------------------------
// MongoDB database: the same name as "database" under [mongodb] in ticketsync.ini.
var DB = 'extrahop';
// Name of the MongoDB ODS target; '' uses the default target (Remote.MongoDB).
var MONGODB_TARGET = '';
// ---------------------------------------------------------------------------------

// Depth limit for copying the type-specific `properties` (they are small in practice;
// the limit only guards against a cyclic live object).
var PROPERTIES_MAX_DEPTH = 4;

function tsIsNumber(v) {
    return typeof v === 'number' && isFinite(v);
}

// An epoch-ms time: the service wants whole numbers; anything else becomes null.
function tsTime(v) {
    return tsIsNumber(v) ? Math.floor(v) : null;
}

function tsString(v) {
    if (v === null || v === undefined) {
        return null;
    }
    return typeof v === 'string' ? v : String(v);
}

// Any array-like value (live objects may hand out array-likes) as a plain array.
function tsList(v) {
    var out = [];
    var i;

    if (v === null || v === undefined || typeof v === 'string' || typeof v.length !== 'number') {
        return out;
    }
    for (i = 0; i < v.length; i++) {
        out.push(v[i]);
    }
    return out;
}

// An IP address as text, from an IPAddress object or a string.
function tsAddr(o) {
    var s;

    if (typeof o === 'string') {
        return o;
    }
    if (o !== null && typeof o === 'object') {
        if (typeof o.addr === 'string') {
            return o.addr;
        }
        s = String(o);
        if (s !== '[object Object]') {
            return s;
        }
    }
    return null;
}

// What a participant's live `object` is, as REST shows it: object_type plus
// object_id (a device's number) or object_value (an address, an application id).
// Detection by class when the runtime exposes it, by shape otherwise.
function tsFlattenObject(o, out) {
    var id;

    if (o === null || o === undefined) {
        return;
    }
    if (typeof o === 'string') {
        out.object_type = 'ipaddr';
        out.object_value = o;
        return;
    }
    if (typeof o === 'number') {
        out.object_type = 'device';
        out.object_id = o;
        return;
    }
    if ((typeof Device === 'function' && o instanceof Device) || typeof o.discoveryId === 'string' || o.ipaddrs !== undefined) {
        out.object_type = 'device';
        id = o.id;
        if (typeof id === 'string' && /^[0-9]+$/.test(id)) {
            id = Number(id);
        }
        if (tsIsNumber(id)) {
            out.object_id = id;
        } else if (typeof o.discoveryId === 'string') {
            out.object_value = o.discoveryId;
        }
        if (typeof o.discoveryId === 'string') {
            out.discovery_id = o.discoveryId;
        }
        var addrs = tsList(o.ipaddrs).map(tsAddr).filter(function (a) { return a !== null; });
        if (addrs.length > 0) {
            out.ipaddrs = addrs;
        }
    } else if ((typeof IPAddress === 'function' && o instanceof IPAddress) || typeof o.isV4 === 'boolean' || typeof o.addr === 'string') {
        out.object_type = 'ipaddr';
        out.object_value = tsAddr(o);
        if (tsList(o.hostNames).length > 0) {
            out.hostnames = tsList(o.hostNames).map(tsString);
        }
    } else if ((typeof Application === 'function' && o instanceof Application) || typeof o.id === 'string') {
        out.object_type = 'application';
        out.object_value = tsString(o.id);
    } else {
        // Unknown kind: keep what can be read rather than drop the participant.
        out.object_type = 'unknown';
        out.object_value = tsString(o);
    }
    if (typeof o.isExternal === 'boolean') {
        out.external = o.isExternal;
    } else if (typeof o.external === 'boolean') {
        out.external = o.external;
    }
}

function tsParticipant(p) {
    var out = { role: tsString(p && p.role) };

    if (p === null || typeof p !== 'object') {
        tsFlattenObject(p, out);
        return out;
    }
    if (tsIsNumber(p.id)) {
        out.id = p.id;
    }
    tsFlattenObject(p.object, out);
    if (typeof p.username === 'string') {
        out.username = p.username;
    }
    return out;
}

// Plain data from a value that may hold live objects: primitives as they are, arrays
// and plain objects copied, live objects flattened like participants.
function tsPlain(v, depth) {
    var out, keys, i, flat, proto;

    if (v === null || v === undefined) {
        return null;
    }
    if (typeof v === 'boolean' || typeof v === 'string') {
        return v;
    }
    if (typeof v === 'number') {
        return isFinite(v) ? v : null;
    }
    if (typeof v !== 'object' || depth >= PROPERTIES_MAX_DEPTH) {
        return tsString(v);
    }
    if (Array.isArray(v)) {
        return v.map(function (x) { return tsPlain(x, depth + 1); });
    }
    // A plain object's prototype is Object.prototype (whose own prototype is null);
    // a live object's is its class's. Compared this way so it holds across realms.
    proto = Object.getPrototypeOf(v);
    if (proto === null || Object.getPrototypeOf(proto) === null) {
        out = {};
        keys = Object.keys(v);
        for (i = 0; i < keys.length; i++) {
            // '$' and '.' have meaning in MongoDB field names.
            out[keys[i].replace(/^\$/, '_').replace(/\./g, '_')] = tsPlain(v[keys[i]], depth + 1);
        }
        return out;
    }
    flat = {};
    tsFlattenObject(v, flat);
    return flat;
}

// mitreCategories [{id, name, url}] -> REST's mitre_tactics (TA....) and
// mitre_techniques (T...., T....-sub) lists.
function tsMitre(list, set) {
    var tactics = [];
    var techniques = [];

    tsList(list).forEach(function (m) {
        var item;

        if (m === null || typeof m !== 'object') {
            return;
        }
        item = { id: tsString(m.id), name: tsString(m.name), url: tsString(m.url) };
        if (m.legacy_ids !== undefined || m.legacyIds !== undefined) {
            item.legacy_ids = tsList(m.legacy_ids !== undefined ? m.legacy_ids : m.legacyIds).map(tsString);
        }
        if (/^TA[0-9]/.test(item.id || '')) {
            tactics.push(item);
        } else {
            techniques.push(item);
        }
    });
    set.mitre_tactics = tactics;
    set.mitre_techniques = techniques;
}

function tsDocument(d) {
    var set = {};

    set.title = tsString(d.title);
    set.description = tsString(d.description);
    set.type = tsString(d.type);
    set.categories = tsList(d.categories).map(tsString);
    set.risk_score = tsIsNumber(d.riskScore) ? d.riskScore : null;
    set.start_time = tsTime(d.startTime);
    set.end_time = tsTime(d.endTime);
    set.update_time = tsTime(d.updateTime);
    // What ExtraHop shows now; ticketsyncd compares it with what it wants shown.
    set.ticket_id = tsString(d.ticketId);
    set.status = tsString(d.status);
    set.assignee = tsString(d.assignee);
    set.resolution = tsString(d.resolution);
    set.participants = tsList(d.participants).map(tsParticipant);
    // Custom detections are the ones users define: REST calls them user-created.
    set.is_user_created = d.isCustom === true;
    tsMitre(d.mitreCategories, set);
    if (d.properties !== undefined && d.properties !== null) {
        set.properties = tsPlain(d.properties, 0);
    }
    if (d.applianceId !== undefined && d.applianceId !== null) {
        set.appliance_id = tsPlain(d.applianceId, 0);
    }
    // Required by the schema: an absent value stays absent (ticketsyncd reports the
    // document) instead of a made-up one.
    ['title', 'type', 'start_time', 'update_time'].forEach(function (k) {
        if (set[k] === null) {
            delete set[k];
        }
    });
    return set;
}

function tsMain() {
    var id = Detection.id;
    var mongo;

    if (typeof event !== 'undefined' && event !== 'DETECTION_UPDATE') {
        return;
    }
    if (!tsIsNumber(id) || id < 1 || Math.floor(id) !== id) {
        log('ticketsync: detection without a usable id (' + String(id) + '): not written');
        return;
    }
    mongo = MONGODB_TARGET === '' ? Remote.MongoDB : Remote.MongoDB(MONGODB_TARGET);
    mongo.update(DB + '.detections', { _id: id }, { $set: tsDocument(Detection) }, { upsert: true });
}

tsMain();
