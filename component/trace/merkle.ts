/**
 * The RFC 6962 / RFC 9162 Merkle tree, as pure functions: SHA-256 with the RFC's domain separation
 * (leaf = H(0x00 || entry), node = H(0x01 || left || right)), the root of a growing log kept as a compact
 * frontier, inclusion and consistency proofs (generation: RFC 6962 §2.1.1 PATH and §2.1.2 SUBPROOF;
 * verification: RFC 9162 §2.1.3.2 and §2.1.4.2, step by step).
 *
 * Proof generation reads the hashes of complete ("perfect") subtrees through a `NodeReader`: node(level,
 * index) is the root of leaves [index·2^level, (index+1)·2^level). The log stores those (store.ts); tests
 * and the verifier compute them.
 */
import * as crypto from 'node:crypto';

export type Hash = Buffer;
export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

// crypto.hash (Node ≥ 20.12) skips the Hash object: a third faster on the verifier's two million hashes.
const oneShot = (crypto as { hash?: (alg: string, data: Buffer | string, enc: 'buffer') => Buffer }).hash;

export function sha256(...parts: Buffer[]): Buffer {
  const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return oneShot ? oneShot('sha256', data, 'buffer') : crypto.createHash('sha256').update(data).digest();
}

/** The root of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT: Hash = sha256(Buffer.alloc(0));

/** MTH({d}) = SHA-256(0x00 || d); a string is hashed as its UTF-8 bytes. */
export function leafHash(entry: Buffer | string): Hash {
  // U+0000 is the single byte 0x00 in UTF-8: a string leaf is hashed without copying it into a Buffer.
  if (typeof entry === 'string' && oneShot) return oneShot('sha256', `\u0000${entry}`, 'buffer');
  return sha256(LEAF_PREFIX, typeof entry === 'string' ? Buffer.from(entry, 'utf8') : entry);
}

const scratch = Buffer.alloc(1 + 2 * HASH_SIZE);
scratch[0] = 0x01;

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Hash, right: Hash): Hash {
  if (!oneShot) return sha256(NODE_PREFIX, left, right);
  // One reusable buffer instead of a concatenation per node: the verifier hashes a million of these.
  left.copy(scratch, 1);
  right.copy(scratch, 1 + HASH_SIZE);
  return oneShot('sha256', scratch, 'buffer');
}

/** The largest power of two strictly smaller than n (n ≥ 2): where RFC 6962 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH of a list of leaf hashes, by the RFC's recursive definition (the reference the fast paths are tested against). */
export function rootOf(leaves: readonly Hash[]): Hash {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leaves[0]!;
  const k = splitPoint(leaves.length);
  return nodeHash(rootOf(leaves.slice(0, k)), rootOf(leaves.slice(k)));
}

/** A completed perfect subtree: its level (log2 of its leaf count), its index at that level, its hash. */
export interface Node {
  level: number;
  index: number;
  hash: Hash;
}

/**
 * The right edge of a growing tree: the roots of its perfect subtrees, largest (leftmost) first — one per
 * set bit of `size`. Appending a leaf merges equal-sized subtrees; the root folds them right to left.
 * O(log n) memory whatever the size: the verifier streams a million entries through one.
 */
export class Frontier {
  private constructor(
    public size: number,
    private readonly stack: Hash[],
  ) {}

  static empty(): Frontier {
    return new Frontier(0, []);
  }

  /** A frontier saved by `hashes()` at `size`. */
  static restore(size: number, hashes: readonly Hash[]): Frontier {
    let bits = 0;
    for (let s = size; s > 0; s = Math.floor(s / 2)) bits += s % 2;
    if (hashes.length !== bits) throw new Error(`a frontier of size ${size} has ${bits} hashes, got ${hashes.length}`);
    return new Frontier(size, [...hashes]);
  }

  hashes(): Hash[] {
    return [...this.stack];
  }

  /** Adds a leaf; returns the perfect subtrees it completed (levels ≥ 1), lowest first. */
  append(leaf: Hash): Node[] {
    const done: Node[] = [];
    let h = leaf;
    let level = 0;
    let n = this.size;
    while (n % 2 === 1) {
      h = nodeHash(this.stack.pop()!, h);
      level++;
      n = Math.floor(n / 2);
      done.push({ level, index: Math.floor((this.size + 1) / 2 ** level) - 1, hash: h });
    }
    this.stack.push(h);
    this.size++;
    return done;
  }

  root(): Hash {
    if (this.stack.length === 0) return EMPTY_ROOT;
    let r = this.stack[this.stack.length - 1]!;
    for (let i = this.stack.length - 2; i >= 0; i--) r = nodeHash(this.stack[i]!, r);
    return r;
  }
}

/** Reads the hash of a complete subtree: node(level, index) covers leaves [index·2^level, (index+1)·2^level). */
export type NodeReader = (level: number, index: number) => Hash;

function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** MTH(D[start:end]) from stored perfect subtrees; `start` is aligned as RFC 6962's recursion always leaves it. */
export function subtreeHash(start: number, end: number, node: NodeReader): Hash {
  const n = end - start;
  if (n <= 0) throw new Error(`empty subtree [${start}, ${end})`);
  if (isPowerOfTwo(n) && start % n === 0) return node(Math.log2(n), start / n);
  const k = splitPoint(n);
  return nodeHash(subtreeHash(start, start + k, node), subtreeHash(start + k, end, node));
}

/** RFC 6962 §2.1.1 PATH(m, D[0:n]): the inclusion proof of leaf m in the tree of n leaves, leaf's sibling first. */
export function inclusionProof(m: number, n: number, node: NodeReader): Hash[] {
  if (!(m >= 0 && m < n)) throw new Error(`leaf ${m} is not in a tree of ${n} leaves`);
  const path = (m: number, start: number, n: number): Hash[] => {
    if (n === 1) return [];
    const k = splitPoint(n);
    return m < k
      ? [...path(m, start, k), subtreeHash(start + k, start + n, node)]
      : [...path(m - k, start + k, n - k), subtreeHash(start, start + k, node)];
  };
  return path(m, 0, n);
}

/** RFC 6962 §2.1.2 PROOF(m, D[0:n]): the consistency proof from the tree of m leaves to the tree of n (0 < m ≤ n). */
export function consistencyProof(m: number, n: number, node: NodeReader): Hash[] {
  if (!(m > 0 && m <= n)) throw new Error(`no consistency proof from ${m} to ${n} leaves`);
  const subproof = (m: number, start: number, n: number, whole: boolean): Hash[] => {
    if (m === n) return whole ? [] : [subtreeHash(start, start + n, node)];
    const k = splitPoint(n);
    return m <= k
      ? [...subproof(m, start, k, whole), subtreeHash(start + k, start + n, node)]
      : [...subproof(m - k, start + k, n - k, false), subtreeHash(start, start + k, node)];
  };
  return subproof(m, 0, n, true);
}

/** Right-shifts both numbers until the first is odd or zero (the RFC's "right-shift fn and sn equally"). */
function shiftWhileEven(fn: number, sn: number): [number, number] {
  while (fn !== 0 && fn % 2 === 0) {
    fn /= 2;
    sn = Math.floor(sn / 2);
  }
  return [fn, sn];
}

/** RFC 9162 §2.1.3.2: does `path` prove that the leaf `leaf` is at `index` in the tree of `size` leaves whose root is `root`? */
export function verifyInclusion(index: number, size: number, leaf: Hash, path: readonly Hash[], root: Hash): boolean {
  if (index >= size || index < 0) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) [fn, sn] = shiftWhileEven(fn, sn);
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/**
 * RFC 9162 §2.1.4.2: does `proof` show that the tree of `first` leaves (root `firstRoot`) is a prefix of the
 * tree of `second` leaves (root `secondRoot`)? Equal sizes need an empty proof and equal roots; from the
 * empty tree everything is consistent.
 */
export function verifyConsistency(first: number, second: number, firstRoot: Hash, secondRoot: Hash, proof: readonly Hash[]): boolean {
  if (first > second || first < 0) return false;
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  if (first === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) [fn, sn] = shiftWhileEven(fn, sn);
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(firstRoot) && sr.equals(secondRoot);
}

/**
 * Inclusion checks of many leaves of one tree whose root is trusted (the messages of one signed batch
 * arrive one by one, each with its path): nodes already proven to lead to the root are remembered, so a
 * leaf's check hashes only up to the first node it shares with an earlier check — usually none or one
 * instead of log2(size) — and compares the rest of its path with what is known. Same verdicts as
 * verifyInclusion (short of a SHA-256 collision); the path must still be whole and exact.
 */
/** Trees remembered at most this large (a burst to one destination is at most its window): bounds the memory a peer's batch can take. */
const MAX_REMEMBERED_SIZE = 2 ** 10;

export class InclusionChecker {
  /** Proven nodes by position (level, index within the level; RFC 6962's tree built level by level). */
  private readonly known = new Map<number, Hash>();

  constructor(
    readonly size: number,
    readonly root: Hash,
  ) {}

  verify(index: number, leaf: Hash, path: readonly Hash[]): boolean {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size) return false;
    // A larger tree is checked plainly; positions are small integers (fast Map keys).
    if (this.size > MAX_REMEMBERED_SIZE) return verifyInclusion(index, this.size, leaf, path, this.root);
    const at = (level: number, i: number) => level * MAX_REMEMBERED_SIZE + i;
    const seen: Array<[number, Hash]> = [];
    let r = leaf;
    let i = index;
    let k = 0;
    for (let level = 0, len = this.size; ; level++, i >>= 1, len = (len + 1) >> 1) {
      const mine = this.known.get(at(level, i));
      if (mine && !mine.equals(r)) return false;
      seen.push([at(level, i), r]);
      if (len === 1) break;
      if ((i ^ 1) >= len) continue; // the last node of an odd level moves up unchanged
      const p = path[k++];
      if (!p) return false;
      const theirs = this.known.get(at(level, i ^ 1));
      if (theirs && !theirs.equals(p)) return false;
      seen.push([at(level, i ^ 1), p]);
      const parent = mine && theirs ? this.known.get(at(level + 1, i >> 1)) : undefined;
      r = parent ?? (i & 1 ? nodeHash(p, r) : nodeHash(r, p));
    }
    if (k !== path.length || !r.equals(this.root)) return false;
    for (const [pos, h] of seen) this.known.set(pos, h);
    return true;
  }
}
