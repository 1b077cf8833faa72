#!/usr/bin/env node
'use strict';
// ticketsync's MongoDB wire-protocol test server (test equipment, not a database).
//
// usage: node server.js [--host 127.0.0.1] [--port 0] [--replset rs0] [--data FILE]
//                       [--history N] [--log-commands]
//
// Prints exactly one line on stdout when listening:
//   READY port=<port> uri=mongodb://<host>:<port>/?replicaSet=<replset>
// Everything else goes to stderr. SIGTERM/SIGINT: flush persistence, exit 0.

const net = require('net');
const { Framer, WireError, opMsg, opReply, OP_QUERY } = require('./wire');
const { Engine } = require('./commands');
const { Persister } = require('./persist');

function usage(msg) {
  if (msg) process.stderr.write(`mongo-test-server: ${msg}\n`);
  process.stderr.write('usage: node server.js [--host 127.0.0.1] [--port 0] [--replset rs0] [--data FILE] [--history N] [--log-commands]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { host: '127.0.0.1', port: 0, replset: 'rs0', data: null, history: 1000000, logCommands: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--host': o.host = val(); break;
      case '--port': o.port = Number(val()); break;
      case '--replset': o.replset = val(); break;
      case '--data': o.data = val(); break;
      case '--history': o.history = Number(val()); break;
      case '--log-commands': o.logCommands = true; break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) usage('--port must be 0..65535');
  if (!Number.isInteger(o.history) || o.history < 1) usage('--history must be a positive integer');
  return o;
}

const log = {
  info: (m) => process.stderr.write(`mongo-test-server: ${m}\n`),
  warn: (m) => process.stderr.write(`mongo-test-server: warning: ${m}\n`),
  error: (m) => process.stderr.write(`mongo-test-server: error: ${m}\n`),
};

class Connection {
  constructor(engine, socket, id) {
    this.engine = engine;
    this.socket = socket;
    this.id = id;
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.framer = new Framer();
    this.queue = [];
    this.busy = false;
    this.closed = false;
    this.waiters = new Set(); // pending change stream getMores to abandon on close
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.onClose());
  }

  onData(chunk) {
    this.framer.push(chunk);
    try {
      for (let m = this.framer.next(); m; m = this.framer.next()) this.queue.push(m);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      log.warn(`connection ${this.id}: ${e.message}; closing it`);
      this.destroy();
      return;
    }
    this.pump();
  }

  // One request at a time per connection, as mongod does: a waiting getMore holds
  // the connection until it answers.
  async pump() {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length && !this.closed) {
        const m = this.queue.shift();
        const r = this.handle(m);
        if (r) await r;
      }
    } catch (e) {
      log.error(`connection ${this.id}: ${e && e.stack ? e.stack : e}`);
      this.destroy();
    }
    this.busy = false;
  }

  // Returns a Promise only when the command waits.
  handle(m) {
    let cmd;
    let dbName;
    let sequences = null;
    const opQuery = m.opCode === OP_QUERY;
    if (opQuery) {
      cmd = m.query;
      if (cmd && cmd.$query !== undefined && typeof cmd.$query === 'object') cmd = cmd.$query;
      dbName = m.fullCollectionName.replace(/\.\$cmd$/, '');
    } else {
      cmd = m.body;
      dbName = cmd.$db;
      sequences = m.sequences;
    }
    const res = this.engine.execute(this, cmd, dbName, sequences, { opQuery, moreToCome: !!m.moreToCome });
    if (res && typeof res.then === 'function') return res.then((r) => this.respond(m, opQuery, r));
    this.respond(m, opQuery, res);
    return null;
  }

  respond(m, opQuery, res) {
    if (this.closed) return;
    if (res.close) {
      this.destroy();
      return;
    }
    if (res.noReply) return;
    const out = opQuery ? opReply(m.requestId, res.reply) : opMsg(m.requestId, res.reply);
    if (res.after) {
      this.socket.write(out, () => res.after());
      return;
    }
    this.socket.write(out);
  }

  destroy() {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.onClose();
  }

  onClose() {
    this.closed = true;
    for (const w of [...this.waiters]) w();
    this.engine.connections.delete(this);
  }
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const persister = opts.data ? new Persister(opts.data, log) : null;
  const engine = new Engine({ ...opts, log, persister });
  if (persister) {
    const t0 = Date.now();
    const records = persister.load();
    engine.load(records);
    // Compact only when most of the log is history (updates, deletes, trimmed events):
    // rewriting 100,000 live documents would double the start time for nothing.
    const live = engine.liveRecordCount();
    if (records.length > 2 * live + 1000 || records.length === 0) persister.rewrite(engine.snapshot());
    else persister.reopen();
    log.info(`loaded ${records.length} records (${live} live) from ${opts.data} in ${Date.now() - t0} ms`);
  } else {
    engine.history.start();
  }

  let nextConnId = 1;
  const server = net.createServer((socket) => {
    const conn = new Connection(engine, socket, nextConnId++);
    engine.connectionCounter++;
    engine.connections.add(conn);
  });
  server.on('error', (e) => {
    log.error(`listen on ${opts.host}:${opts.port}: ${e.message}`);
    process.exit(1);
  });
  server.listen(opts.port, opts.host, () => {
    const port = server.address().port;
    engine.port = port;
    process.stdout.write(`READY port=${port} uri=mongodb://${opts.host}:${port}/?replicaSet=${opts.replset}\n`);
  });

  let stopping = false;
  const stop = (sig) => {
    if (stopping) return;
    stopping = true;
    server.close();
    for (const c of [...engine.connections]) c.destroy();
    try {
      if (persister) persister.close();
    } catch (e) {
      log.error(`flushing ${opts.data}: ${e.message}`);
      process.exit(1);
    }
    log.info(`stopped on ${sig}`);
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main();
