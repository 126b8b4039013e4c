// Outside reference: recomputes zkattr's BN254 test vectors with circomlibjs, independently of
// both Rust implementations. Everything here is BigInt; circomlibjs supplies only the Poseidon
// permutation (its reference implementation, with circomlib's own constant tables).
//
// usage: node check.js [vector.json ...]   (default: every file in ../../testvectors)

import { buildPoseidonReference } from "circomlibjs";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const vectorsDir = path.join(here, "..", "..", "testvectors");

const poseidon = await buildPoseidonReference();
const F = poseidon.F;
const toBig = (e) => BigInt(F.toString(e));

/// The width-3 permutation on a whole state: circomlibjs permutes [initState, ...inputs].
function permute([s0, s1, s2]) {
  return poseidon([s1, s2], s0, 3).map(toBig);
}

/// SPEC's H: add each pair into state elements 1 and 2 (last padded with 0), permute, output
/// element 0.
function H(...xs) {
  if (xs.length === 0) throw new Error("H of nothing");
  const P = BigInt(F.p.toString());
  let state = [0n, 0n, 0n];
  for (let i = 0; i < xs.length; i += 2) {
    state[1] = (state[1] + BigInt(xs[i])) % P;
    state[2] = (state[2] + BigInt(i + 1 < xs.length ? xs[i + 1] : 0n)) % P;
    state = permute(state);
  }
  return state[0];
}

const pack = (values, width) =>
  values.reduce((acc, v, i) => acc + (BigInt(v) << BigInt(width * i)), 0n);

/// Root of a fixed-depth tree over leaves (empty positions 0), with empty subtrees cached.
function merkleRoot(leaves, depth) {
  let empty = 0n;
  let level = leaves.slice();
  for (let h = 0; h < depth; h++) {
    if (level.length === 0) {
      empty = H(empty, empty);
      continue;
    }
    const next = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(H(level[i], i + 1 < level.length ? level[i + 1] : empty));
    }
    level = next;
    empty = H(empty, empty);
  }
  return level.length ? level[0] : empty;
}

function slotsOf(query) {
  const slots = query.slots.map((s) => ({
    adapter: BigInt(s.adapter_id),
    gate: BigInt(s.gate),
    score: BigInt(s.score),
  }));
  while (slots.length < 8) slots.push({ adapter: 0n, gate: 0n, score: 0n });
  return slots;
}

function activationLeaf(query) {
  const act = slotsOf(query).map((s) => s.adapter + (s.gate << 32n));
  const q = BigInt(query.query_id) + (BigInt(query.fee) << 64n);
  return H(1n, q, pack(act.slice(0, 5), 48), pack(act.slice(5), 48));
}

function influenceLeaf(query) {
  const inf = slotsOf(query).map((s) => s.adapter + (BigInt.asUintN(32, s.score) << 32n));
  return H(2n, BigInt(query.query_id), pack(inf.slice(0, 3), 64), pack(inf.slice(3, 6), 64), pack(inf.slice(6), 64));
}

/// The royalty rule, from SPEC, in BigInt.
function settle(epoch) {
  const rate = BigInt(epoch.rate_bps);
  const totals = new Map();
  let totalPool = 0n;
  let treasury = 0n;
  for (const query of epoch.queries) {
    const pool = (BigInt(query.fee) * rate) / 10000n;
    const slots = slotsOf(query);
    const w = slots.map((s) => s.gate * (s.score > 0n ? s.score : 0n));
    const W = w.reduce((a, b) => a + b, 0n);
    let paid = 0n;
    slots.forEach((s, j) => {
      const share = W === 0n ? 0n : (pool * w[j]) / W;
      paid += share;
      if (s.adapter !== 0n) totals.set(s.adapter, (totals.get(s.adapter) ?? 0n) + share);
    });
    totalPool += pool;
    treasury += pool - paid;
  }
  const payouts = [...totals.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const totalPaid = payouts.reduce((a, [, v]) => a + v, 0n);
  return { totalPool, totalPaid, treasury, payouts };
}

function expectedTable(epoch) {
  const n = BigInt(epoch.queries.length);
  const s = settle(epoch);
  const payoutRoot = merkleRoot(s.payouts.map(([a, v]) => H(a, v)), 20);
  return {
    total_pool: s.totalPool,
    total_paid: s.totalPaid,
    treasury: s.treasury,
    n_queries: n,
    n_payees: BigInt(s.payouts.length),
    payouts: s.payouts,
    activation_commitment: H(4n, merkleRoot(epoch.queries.map(activationLeaf), 32), n),
    influence_commitment: H(4n, merkleRoot(epoch.queries.map(influenceLeaf), 32), n),
    payout_commitment: H(3n, payoutRoot, BigInt(s.payouts.length)),
  };
}

/// JSON with integers beyond 2^53 kept exact: long integer literals become strings first.
const parseExact = (text) => JSON.parse(text.replace(/([:\[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g, '$1"$2"'));

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

// The SPEC vector, and SPEC's sponge through circomlibjs's own multi-input hash for n = 2.
report("spec H(1,2)", [
  ...(H(1n, 2n) === 7853200120776062878684798364095072458815029376092732009249414926327459813530n ? [] : ["H(1,2)"]),
  ...(H(1n, 2n) === toBig(poseidon([1n, 2n])) ? [] : ["poseidon([1,2])"]),
]);

const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : fs.readdirSync(vectorsDir).filter((f) => f.endsWith(".json")).map((f) => path.join(vectorsDir, f));

for (const file of files) {
  const vector = parseExact(fs.readFileSync(file, "utf8"));
  if (Array.isArray(vector.vectors)) {
    const bad = vector.vectors
      .map((v, i) => [i, H(...v.inputs.map(BigInt)), BigInt(v.output)])
      .filter(([, got, want]) => got !== want)
      .map(([i, got, want]) => `vector ${i}: expected ${want} got ${got}`);
    report(path.basename(file), bad);
    continue;
  }
  const want = vector.bn254;
  const got = expectedTable(vector.epoch);
  const bad = [];
  for (const field of ["total_pool", "total_paid", "treasury", "n_queries", "n_payees", "activation_commitment", "influence_commitment", "payout_commitment"]) {
    const shown = field.endsWith("commitment") ? `0x${got[field].toString(16).padStart(64, "0")}` : got[field];
    if (BigInt(want[field]) !== got[field]) bad.push(`${field} expected ${want[field]} got ${shown}`);
  }
  const wantPayouts = want.payouts.map((p) => [BigInt(p.adapter_id), BigInt(p.amount)]);
  if (JSON.stringify(wantPayouts.map(String)) !== JSON.stringify(got.payouts.map(String))) bad.push("payouts differ");
  report(vector.name ?? path.basename(file), bad);
}

console.log(`circomlib-check: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 1 ? 0 : 1);
