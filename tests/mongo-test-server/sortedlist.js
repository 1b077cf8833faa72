'use strict';
// A sorted list of index entries kept in chunks (the "sorted containers" layout):
// insert and remove cost a binary search plus a splice inside one chunk of at most
// 2 * LOAD entries, so a 100,000-entry index stays cheap to maintain, and range
// scans walk the chunks in order.

const LOAD = 512;

class SortedList {
  constructor(cmp) {
    this.cmp = cmp; // total order over entries (ties broken by the caller)
    this.chunks = [];
    this.size = 0;
  }

  // Index of the first chunk whose last entry is not before `before`'s boundary.
  // before(entry) -> true while entry lies before the position looked for.
  chunkFor(before) {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = this.chunks[mid];
      if (before(c[c.length - 1])) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  static posIn(chunk, before) {
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(chunk[mid])) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(entry) {
    this.size++;
    if (this.chunks.length === 0) {
      this.chunks.push([entry]);
      return;
    }
    const before = (e) => this.cmp(e, entry) <= 0;
    let ci = this.chunkFor(before);
    if (ci === this.chunks.length) ci -= 1;
    const chunk = this.chunks[ci];
    chunk.splice(SortedList.posIn(chunk, before), 0, entry);
    if (chunk.length > 2 * LOAD) this.chunks.splice(ci, 1, chunk.slice(0, LOAD), chunk.slice(LOAD));
  }

  // Removes the entry equal (cmp === 0) to `entry`; returns whether it was there.
  remove(entry) {
    const before = (e) => this.cmp(e, entry) < 0;
    const ci = this.chunkFor(before);
    if (ci === this.chunks.length) return false;
    const chunk = this.chunks[ci];
    const pos = SortedList.posIn(chunk, before);
    if (pos >= chunk.length || this.cmp(chunk[pos], entry) !== 0) return false;
    chunk.splice(pos, 1);
    if (chunk.length === 0) this.chunks.splice(ci, 1);
    this.size--;
    return true;
  }

  // Entries from the first one for which before() is false, in order.
  * from(before) {
    let ci = this.chunkFor(before);
    if (ci === this.chunks.length) return;
    let pos = SortedList.posIn(this.chunks[ci], before);
    for (; ci < this.chunks.length; ci++, pos = 0) {
      const chunk = this.chunks[ci];
      for (; pos < chunk.length; pos++) yield chunk[pos];
    }
  }
}

module.exports = { SortedList };
