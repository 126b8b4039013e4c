// Outside reference check: recomputes zkattr's BN254 test vectors with circomlibjs, independently
// of the Rust code. Everything is BigInt; circomlibjs supplies only the width-3 Poseidon
// permutation with circomlib's own constants. The royalty rule, the packing, the sponge, the
// Merkle trees and the commitments are written here again from docs/SPEC ("Commitments", "Data",
// "The royalty rule", "Interchange format").
//
// usage: node check.js [file.json ...]
//   With no arguments: every ../../testvectors/*.json epoch vector (poseidon_bn254.json excluded),
//   then ../../testvectors/poseidon_bn254.json if it exists.
//   With arguments: exactly those files; a file of the form {"vectors": [...]} is checked as a
//   hash-vector file, anything else as an epoch vector.
//
// Output: one line per file, `ok NAME` or one `MISMATCH NAME field expected got` per differing
// field, then `circomlib-check: N passed, M failed`. Exit status 0 only when no check failed and
// at least one file was checked.
//
// How SPEC's sponge maps onto circomlibjs (read from node_modules/circomlibjs/src/
// poseidon_reference.js, poseidon_opt.js and poseidon_wasm.js, v0.1.7): `poseidon(inputs,
// initState, nOut)` builds the state `[initState, ...inputs]` (t = inputs.length + 1), applies
// the whole permutation for that width (8 full rounds, N_ROUNDS_P[t-2] partial rounds: 57 for
// t = 3) and returns the first nOut elements of the permuted state. Nothing is added: the inputs
// *are* the state elements 1..t-1 and initState *is* element 0. So with two inputs and nOut = 3,
//     poseidon([a, b], c, 3) = P([c, a, b])        (all three elements)
// and SPEC's absorb-then-permute step on a carried state [s0, s1, s2] with the pair (x, y) is
//     [s0, s1, s2] -> P([s0, s1 + x, s2 + y]) = poseidon([s1 + x, s2 + y], s0, 3).
// (The reference and opt builds turn a falsy initState into F.zero, which equals an s0 of 0
// anyway.) The self-checks below confirm this: poseidon([1,2]) equals the sponge's H(1,2), the
// three circomlibjs builds agree on the full permuted state for random full states, and the
// sponge reproduces known prefixes/suffixes of H(1,2,3) and H(1,2,3,4,5).

import { buildPoseidon, buildPoseidonReference, buildPoseidonOpt } from "circomlibjs";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const vectorsDir = path.join(here, "..", "..", "testvectors");
const HASH_VECTOR_FILE = "poseidon_bn254.json";

// BN254 scalar field modulus.
const P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const mod = (x) => ((x % P) + P) % P;

const poseidonWasm = await buildPoseidon();
const poseidonRef = await buildPoseidonReference();
const poseidonOpt = await buildPoseidonOpt();

/// The width-3 permutation of a full state, through a given circomlibjs build.
function permuteWith(poseidon, [s0, s1, s2]) {
  const F = poseidon.F;
  return poseidon([mod(s1), mod(s2)], mod(s0), 3).map((e) => BigInt(F.toObject(e)));
}
// The wasm build is circomlibjs's default `buildPoseidon` and the fastest; the self-checks pin it
// to the reference build.
const permute = (state) => permuteWith(poseidonWasm, state);

/// SPEC's H: state [0,0,0]; for each pair (last padded with 0) add it into elements 1 and 2,
/// permute; output element 0.
function H(...xs) {
  if (xs.length === 0) throw new Error("H of no inputs");
  let s = [0n, 0n, 0n];
  for (let i = 0; i < xs.length; i += 2) {
    const x = BigInt(xs[i]);
    const y = i + 1 < xs.length ? BigInt(xs[i + 1]) : 0n;
    s = permute([s[0], mod(s[1] + x), mod(s[2] + y)]);
  }
  return s[0];
}
const H2 = (l, r) => H(l, r);

/// Root of a fixed-depth binary tree over `leaves` in order, empty positions 0, inner node H2.
/// Only the non-empty prefix is hashed; everything to its right uses cached empty subtrees.
function merkleRoot(leaves, depth) {
  if (leaves.length > 2 ** depth) throw new Error(`${leaves.length} leaves exceed depth ${depth}`);
  let empty = 0n; // root of an all-empty subtree of the current height
  let level = leaves.slice();
  for (let h = 0; h < depth; h++) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(H2(level[i], i + 1 < level.length ? level[i + 1] : empty));
    }
    level = next;
    empty = H2(empty, empty);
  }
  return level.length ? level[0] : empty;
}

// ---------------------------------------------------------------------------------------------
// Exact JSON: integers become BigInt (u64 values such as 18446744073709551615 appear as plain
// JSON numbers in the vectors, beyond what a double holds).

function parseJsonExact(text) {
  let i = 0;
  const fail = (msg) => {
    throw new Error(`JSON: ${msg} at offset ${i}`);
  };
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  function value() {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const o = {};
      ws();
      if (text[i] === "}") return i++, o;
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected key");
        const k = string();
        ws();
        if (text[i++] !== ":") fail("expected ':'");
        o[k] = value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") return i++, o;
        else fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const a = [];
      ws();
      if (text[i] === "]") return i++, a;
      for (;;) {
        a.push(value());
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") return i++, a;
        else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m) {
      i += m[0].length;
      return m[2] || m[3] ? Number(m[0]) : BigInt(m[0]);
    }
    for (const [lit, v] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(lit, i)) return (i += lit.length), v;
    }
    fail("unexpected character");
  }
  function string() {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    if (text[i] !== '"') fail("unterminated string");
    i++;
    return JSON.parse(text.slice(start, i));
  }
  const v = value();
  ws();
  if (i !== text.length) fail("trailing data");
  return v;
}

/// An integer field from a vector: a JSON integer, or a decimal / 0x-hex string.
function int(v, what) {
  if (typeof v === "bigint") return v;
  if (typeof v === "string" && /^(-?\d+|0x[0-9a-fA-F]+)$/.test(v)) return BigInt(v);
  throw new Error(`${what}: not an integer: ${JSON.stringify(v)}`);
}

// ---------------------------------------------------------------------------------------------
// SPEC data rules, the royalty rule and the commitments.

const K = 8;
const U16 = (1n << 16n) - 1n;
const U32 = (1n << 32n) - 1n;
const U64 = (1n << 64n) - 1n;

/// The epoch as BigInts, every query with its K canonical slots; throws on input SPEC rejects.
function readEpoch(e) {
  const epochId = int(e.epoch_id, "epoch_id");
  const rate = int(e.rate_bps, "rate_bps");
  if (epochId < 0n || epochId > U64) throw new Error("epoch_id not u64");
  if (rate < 0n || rate > 10000n) throw new Error("rate_bps not in 0..=10000");
  if (!Array.isArray(e.queries)) throw new Error("queries is not a list");
  let prev = -1n;
  const queries = e.queries.map((q, n) => {
    const qid = int(q.query_id, `query ${n} query_id`);
    const fee = int(q.fee, `query ${qid} fee`);
    if (qid < 0n || qid > U64) throw new Error(`query ${qid}: query_id not u64`);
    if (qid <= prev) throw new Error(`query ${qid}: query_id not strictly increasing`);
    prev = qid;
    if (fee < 0n || fee >= 1n << 48n) throw new Error(`query ${qid}: fee not below 2^48`);
    const used = q.slots ?? [];
    if (used.length > K) throw new Error(`query ${qid}: more than ${K} slots`);
    let prevA = 0n;
    const slots = used.map((s, j) => {
      const adapter = int(s.adapter_id, `query ${qid} slot ${j} adapter_id`);
      const gate = int(s.gate, `query ${qid} slot ${j} gate`);
      const score = int(s.score, `query ${qid} slot ${j} score`);
      if (adapter < 1n || adapter > U32) throw new Error(`query ${qid} slot ${j}: adapter_id not a nonzero u32`);
      if (adapter <= prevA) throw new Error(`query ${qid} slot ${j}: adapter ids not strictly increasing`);
      prevA = adapter;
      if (gate < 0n || gate > U16) throw new Error(`query ${qid} slot ${j}: gate not u16`);
      if (score < -(1n << 31n) || score >= 1n << 31n) throw new Error(`query ${qid} slot ${j}: score not i32`);
      return { adapter, gate, score };
    });
    while (slots.length < K) slots.push({ adapter: 0n, gate: 0n, score: 0n });
    return { qid, fee, slots };
  });
  return { epochId, rate, queries };
}

/// The royalty rule: floor division throughout; payouts for every adapter in a used slot.
function settle({ rate, queries }) {
  const byAdapter = new Map();
  let totalPool = 0n;
  let treasury = 0n;
  for (const q of queries) {
    const pool = (q.fee * rate) / 10000n;
    const w = q.slots.map((s) => s.gate * (s.score > 0n ? s.score : 0n));
    const W = w.reduce((a, b) => a + b, 0n);
    let shared = 0n;
    q.slots.forEach((s, j) => {
      const share = W === 0n ? 0n : (pool * w[j]) / W;
      shared += share;
      if (s.adapter !== 0n) byAdapter.set(s.adapter, (byAdapter.get(s.adapter) ?? 0n) + share);
      else if (share !== 0n) throw new Error(`query ${q.qid}: unused slot got a share`);
    });
    totalPool += pool;
    treasury += pool - shared;
  }
  if (totalPool > U64) throw new Error("total pool exceeds u64");
  const payouts = [...byAdapter.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const totalPaid = payouts.reduce((acc, [, v]) => acc + v, 0n);
  if (totalPaid + treasury !== totalPool) throw new Error("conservation fails (bug in this script)");
  return { totalPool, totalPaid, treasury, payouts };
}

const pack = (values, bits) => values.reduce((acc, v, i) => acc + (v << BigInt(bits * i)), 0n);

function activationLeaf(q) {
  const act = q.slots.map((s) => s.adapter + (s.gate << 32n));
  const packedQ = q.qid + (q.fee << 64n);
  return H(1n, packedQ, pack(act.slice(0, 5), 48), pack(act.slice(5, 8), 48));
}

function influenceLeaf(q) {
  const inf = q.slots.map((s) => s.adapter + (BigInt.asUintN(32, s.score) << 32n));
  return H(2n, q.qid, pack(inf.slice(0, 3), 64), pack(inf.slice(3, 6), 64), pack(inf.slice(6, 8), 64));
}

/// The full BN254 payout table this script expects for an epoch.
function expectedTable(epochJson) {
  const epoch = readEpoch(epochJson);
  const s = settle(epoch);
  const n = BigInt(epoch.queries.length);
  const nPayees = BigInt(s.payouts.length);
  return {
    epoch_id: epoch.epochId,
    rate_bps: epoch.rate,
    n_queries: n,
    n_payees: nPayees,
    total_pool: s.totalPool,
    total_paid: s.totalPaid,
    treasury: s.treasury,
    payouts: s.payouts,
    activation_commitment: H(4n, merkleRoot(epoch.queries.map(activationLeaf), 32), n),
    influence_commitment: H(4n, merkleRoot(epoch.queries.map(influenceLeaf), 32), n),
    payout_commitment: H(3n, merkleRoot(s.payouts.map(([a, v]) => H2(a, v)), 20), nPayees),
  };
}

const hex = (x) => "0x" + x.toString(16).padStart(64, "0");
const show = (v) => (typeof v === "bigint" || typeof v === "string" ? String(v) : JSON.stringify(v));

// ---------------------------------------------------------------------------------------------
// Checks.

let passed = 0;
let failed = 0;

function report(name, mismatches) {
  if (mismatches.length === 0) {
    passed++;
    console.log(`ok ${name}`);
  } else {
    failed++;
    for (const m of mismatches) console.log(`MISMATCH ${name} ${m}`);
  }
}

/// Self-checks of the hash itself; printed, and any failure fails the run (not counted as a file).
function selfChecks() {
  const bad = [];
  const expect = (field, want, got) => {
    if (want !== got) bad.push(`${field} ${show(want)} ${show(got)}`);
  };
  const SPEC_H12 = 7853200120776062878684798364095072458815029376092732009249414926327459813530n;
  for (const [tag, p] of [["wasm", poseidonWasm], ["reference", poseidonRef], ["opt", poseidonOpt]]) {
    expect(`poseidon_${tag}([1,2])`, SPEC_H12, BigInt(p.F.toObject(p([1n, 2n]))));
  }
  expect("H(1,2)", SPEC_H12, H(1n, 2n));
  // The sponge through the permutation equals circomlibjs's own 2-input hash, for random inputs.
  for (let k = 0; k < 4; k++) {
    const [a, b] = [rand(), rand()];
    expect(`H(a,b)_vs_poseidon([a,b])#${k}`, BigInt(poseidonWasm.F.toObject(poseidonWasm([a, b]))), H(a, b));
  }
  // The three builds agree on the whole permuted state for random full states (initState != 0).
  for (let k = 0; k < 4; k++) {
    const st = [rand(), rand(), rand()];
    const w = permuteWith(poseidonWasm, st).map(hex).join(",");
    expect(`P_reference_vs_wasm#${k}`, permuteWith(poseidonRef, st).map(hex).join(","), w);
    expect(`P_opt_vs_wasm#${k}`, permuteWith(poseidonOpt, st).map(hex).join(","), w);
  }
  // Known values of the multi-permutation sponge (prefix and suffix).
  const h3 = hex(H(1n, 2n, 3n));
  const h5 = hex(H(1n, 2n, 3n, 4n, 5n));
  if (!(h3.startsWith("0x15d26b16") && h3.endsWith("2f87"))) bad.push(`H(1,2,3) 0x15d26b16..2f87 ${h3}`);
  if (!(h5.startsWith("0x2e438aaa") && h5.endsWith("aad0"))) bad.push(`H(1,2,3,4,5) 0x2e438aaa..aad0 ${h5}`);
  if (bad.length) {
    failed++;
    for (const m of bad) console.log(`MISMATCH selfcheck ${m}`);
  } else {
    console.log(`selfcheck ok: poseidon([1,2]) = H(1,2) = SPEC value; H(1,2,3) = ${h3}; H(1,2,3,4,5) = ${h5}`);
  }
}

function rand() {
  return BigInt("0x" + crypto.randomBytes(32).toString("hex")) % P;
}

function checkHashVectors(name, doc) {
  const bad = [];
  if (!Array.isArray(doc.vectors) || doc.vectors.length === 0) bad.push(`vectors a_nonempty_list ${show(doc.vectors)}`);
  else
    doc.vectors.forEach((v, i) => {
      const inputs = v.inputs.map((x) => int(x, `vectors[${i}].inputs`));
      const got = H(...inputs);
      const want = int(v.output, `vectors[${i}].output`);
      if (got !== want) bad.push(`vectors[${i}].output ${v.output} ${hex(got)}`);
    });
  report(name, bad);
}

function checkEpochVector(name, doc) {
  const want = doc.bn254;
  if (!want || typeof want !== "object") return report(name, ["bn254 an_object missing"]);
  let got;
  try {
    got = expectedTable(doc.epoch);
  } catch (e) {
    return report(name, [`epoch a_valid_epoch ${JSON.stringify(String(e.message))}`]);
  }
  const bad = [];
  const cmp = (field, w, g, asHex = false) => {
    let wv;
    try {
      wv = int(w, field);
    } catch {
      return bad.push(`${field} ${show(w)} ${asHex ? hex(g) : g}`);
    }
    if (wv !== g) bad.push(`${field} ${show(w)} ${asHex ? hex(g) : g}`);
  };
  if (want.family !== undefined && want.family !== "bn254") bad.push(`family "bn254" ${show(want.family)}`);
  for (const f of ["epoch_id", "rate_bps", "n_queries", "n_payees", "total_pool", "total_paid", "treasury"]) {
    if (f in want) cmp(f, want[f], got[f]);
    else if (f !== "epoch_id" && f !== "rate_bps") bad.push(`${f} present missing`);
  }
  const wp = Array.isArray(want.payouts) ? want.payouts : [];
  if (wp.length !== got.payouts.length) bad.push(`payouts.length ${wp.length} ${got.payouts.length}`);
  for (let i = 0; i < Math.max(wp.length, got.payouts.length); i++) {
    const [ga, gv] = got.payouts[i] ?? [undefined, undefined];
    const w = wp[i] ?? {};
    if (ga === undefined) {
      bad.push(`payouts[${i}] ${show(w.adapter_id)}:${show(w.amount)} absent`);
      continue;
    }
    cmp(`payouts[${i}].adapter_id`, w.adapter_id, ga);
    cmp(`payouts[${i}].amount(adapter ${ga})`, w.amount, gv);
  }
  for (const f of ["activation_commitment", "influence_commitment", "payout_commitment"]) {
    cmp(f, want[f], got[f], true);
    if (typeof want[f] === "string" && !/^0x[0-9a-f]{64}$/.test(want[f]))
      console.log(`note ${name} ${f} is not 0x + 64 lowercase hex digits: ${want[f]}`);
  }
  report(name, bad);
}

selfChecks();

const args = process.argv.slice(2);
let files;
if (args.length) {
  files = args;
} else {
  const all = fs.existsSync(vectorsDir) ? fs.readdirSync(vectorsDir).filter((f) => f.endsWith(".json")).sort() : [];
  files = all.filter((f) => f !== HASH_VECTOR_FILE).map((f) => path.join(vectorsDir, f));
  if (all.includes(HASH_VECTOR_FILE)) files.push(path.join(vectorsDir, HASH_VECTOR_FILE));
}

for (const file of files) {
  const base = path.basename(file, ".json");
  let doc;
  try {
    doc = parseJsonExact(fs.readFileSync(file, "utf8"));
  } catch (e) {
    report(base, [`file readable_json ${JSON.stringify(String(e.message))}`]);
    continue;
  }
  if (doc && Array.isArray(doc.vectors)) checkHashVectors(base, doc);
  else checkEpochVector(typeof doc?.name === "string" ? doc.name : base, doc ?? {});
}

if (files.length === 0) console.log("no vector files found");
console.log(`circomlib-check: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
