'use strict';
// MongoDB wire protocol framing: OP_QUERY (handshake only), OP_MSG (everything else),
// OP_REPLY and OP_MSG replies. No compression is advertised, so OP_COMPRESSED is
// never expected.

const { BSON, toRaw, serialize } = require('./bsonutil');

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_COMPRESSED = 2012;
const OP_MSG = 2013;

const MSG_CHECKSUM_PRESENT = 1 << 0;
const MSG_MORE_TO_COME = 1 << 1;
const MAX_MESSAGE_SIZE = 48000000;

// CRC-32C (Castagnoli), the OP_MSG checksum.
const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

function crc32c(buf, start, end) {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

class WireError extends Error {}

function readCString(buf, off) {
  const end = buf.indexOf(0, off);
  if (end < 0) throw new WireError('unterminated cstring');
  return [buf.toString('utf8', off, end), end + 1];
}

// Accumulates socket data and yields complete messages.
class Framer {
  constructor() {
    this.chunks = [];
    this.length = 0;
  }

  push(chunk) {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  next() {
    if (this.length < 4) return null;
    if (this.chunks.length > 1) {
      this.chunks = [Buffer.concat(this.chunks, this.length)];
    }
    const buf = this.chunks[0];
    const len = buf.readInt32LE(0);
    if (len < 16 || len > MAX_MESSAGE_SIZE) throw new WireError('bad message length ' + len);
    if (buf.length < len) return null;
    const msg = buf.subarray(0, len);
    const rest = buf.subarray(len);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return parse(msg);
  }
}

function parse(buf) {
  const m = {
    requestId: buf.readInt32LE(4),
    responseTo: buf.readInt32LE(8),
    opCode: buf.readInt32LE(12),
  };
  if (m.opCode === OP_MSG) parseMsg(buf, m);
  else if (m.opCode === OP_QUERY) parseQuery(buf, m);
  else if (m.opCode === OP_COMPRESSED) throw new WireError('OP_COMPRESSED received but compression was not negotiated');
  else throw new WireError('unsupported opCode ' + m.opCode);
  return m;
}

function parseQuery(buf, m) {
  let off = 16;
  m.flags = buf.readInt32LE(off);
  off += 4;
  [m.fullCollectionName, off] = readCString(buf, off);
  m.numberToSkip = buf.readInt32LE(off);
  m.numberToReturn = buf.readInt32LE(off + 4);
  off += 8;
  const qlen = buf.readInt32LE(off);
  m.query = toRaw(buf.subarray(off, off + qlen));
}

function parseMsg(buf, m) {
  m.flags = buf.readUInt32LE(16);
  let end = buf.length;
  if (m.flags & MSG_CHECKSUM_PRESENT) {
    end -= 4;
    const want = buf.readUInt32LE(end);
    if (crc32c(buf, 0, end) !== want) throw new WireError('OP_MSG checksum mismatch');
  }
  m.moreToCome = !!(m.flags & MSG_MORE_TO_COME);
  m.body = null;
  m.sequences = {};
  let off = 20;
  while (off < end) {
    const kind = buf[off++];
    if (kind === 0) {
      const len = buf.readInt32LE(off);
      if (m.body) throw new WireError('OP_MSG with more than one body section');
      m.body = toRaw(buf.subarray(off, off + len));
      off += len;
    } else if (kind === 1) {
      const size = buf.readInt32LE(off);
      const secEnd = off + size;
      let p = off + 4;
      let id;
      [id, p] = readCString(buf, p);
      const docs = [];
      while (p < secEnd) {
        const len = buf.readInt32LE(p);
        // Kept as bytes: inserted documents are stored exactly as the client sent them.
        docs.push(Buffer.from(buf.subarray(p, p + len)));
        p += len;
      }
      m.sequences[id] = docs;
      off = secEnd;
    } else {
      throw new WireError('unknown OP_MSG section kind ' + kind);
    }
  }
  if (!m.body) throw new WireError('OP_MSG without a body section');
}

let nextRequestId = 1;

function opMsg(responseTo, bodyBytes) {
  const len = 16 + 4 + 1 + bodyBytes.length;
  const head = Buffer.allocUnsafe(21);
  head.writeInt32LE(len, 0);
  head.writeInt32LE(nextRequestId++, 4);
  head.writeInt32LE(responseTo, 8);
  head.writeInt32LE(OP_MSG, 12);
  head.writeUInt32LE(0, 16);
  head[20] = 0;
  return Buffer.concat([head, bodyBytes], len);
}

function opReply(responseTo, docBytes) {
  const len = 16 + 20 + docBytes.length;
  const head = Buffer.allocUnsafe(36);
  head.writeInt32LE(len, 0);
  head.writeInt32LE(nextRequestId++, 4);
  head.writeInt32LE(responseTo, 8);
  head.writeInt32LE(OP_REPLY, 12);
  head.writeInt32LE(8, 16); // AwaitCapable, as mongod sets it
  head.writeBigInt64LE(0n, 20);
  head.writeInt32LE(0, 28);
  head.writeInt32LE(1, 32);
  return Buffer.concat([head, docBytes], len);
}

function toBytes(doc) {
  return Buffer.isBuffer(doc) ? doc : serialize(doc);
}

module.exports = {
  Framer, WireError, opMsg, opReply, toBytes, crc32c, BSON,
  OP_MSG, OP_QUERY, MSG_MORE_TO_COME, MAX_MESSAGE_SIZE,
};
