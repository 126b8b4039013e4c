#!/usr/bin/env python3
"""Outside reference check of zkattr's Goldilocks hash and commitments, in Python 3 (stdlib only).

Nothing here comes from Rust code. The round constants are regenerated from the procedure plonky2
publishes for them (plonky2 1.1, src/bin/generate_constants.rs): ChaCha8 seeded from the u64 0
through rand_core 0.6's `seed_from_u64` (PCG32), then 360 draws of rand 0.8's
`gen_range(0..p)` (widening multiply with rejection). The MDS matrix is plonky2's published data:
circulant first row [17, 15, 41, 16, 2, 28, 13, 13, 39, 18, 34, 20] plus 8 on the first diagonal
entry (src/hash/poseidon_goldilocks.rs). The permutation is the textbook Poseidon (Grassi et al.,
eprint 2019/458): width 12, 4 full rounds, 22 partial rounds, 4 full rounds, S-box x^7; each
round adds its 12 constants, applies the S-box (to every element in a full round, to element 0
in a partial round), then the MDS matrix. The sponges follow plonky2's `hash_n_to_m_no_pad`
(overwrite mode, rate 8, capacity 4, no padding, 4 outputs; an empty message permutes nothing)
and `compress` (two_to_one: the two digests fill elements 0..8, the rest 0, one permutation).
The statement (royalty rule, Goldilocks packing, fixed-depth trees, commitments) is written here
again from SPEC ("Data", "The royalty rule", "Commitments").

usage: check.py [FILE.json ...] | check.py --write-hash-vectors
  With no arguments: every ../../testvectors/*.json epoch vector (files without an "epoch" field
  are skipped), then the hash vectors ../../verifier/tests/data/poseidon_goldilocks.json.
  Before the files, self-checks: the regenerated round constants equal the table in
  ../../verifier/src/goldilocks/poseidon.rs.

`--write-hash-vectors` (re)writes that hash-vector file from this script (fixed inputs: edge
values and SHA-256-derived elements); the Rust tests hold both the verifier's twin and plonky2
to it.

Output: `ok NAME` or one `MISMATCH NAME field expected got` per differing field, then
`goldilocks-check: N passed, M failed`. Exit status 0 only when nothing failed and at least one
file was checked.
"""

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
VECTORS_DIR = os.path.join(ROOT, "testvectors")
HASH_VECTORS = os.path.join(ROOT, "verifier", "tests", "data", "poseidon_goldilocks.json")
TWIN_SOURCE = os.path.join(ROOT, "verifier", "src", "goldilocks", "poseidon.rs")

P = 2**64 - 2**32 + 1
M32 = 2**32 - 1
M64 = 2**64 - 1

WIDTH = 12
RATE = 8
HALF_FULL_ROUNDS = 4
PARTIAL_ROUNDS = 22
ROUNDS = 2 * HALF_FULL_ROUNDS + PARTIAL_ROUNDS
MDS_CIRC = [17, 15, 41, 16, 2, 28, 13, 13, 39, 18, 34, 20]
MDS_DIAG = [8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

# ---------------------------------------------------------------------------------------------
# The round constants' generator: ChaCha8 (Bernstein's ChaCha with 8 rounds, 64-bit block
# counter in words 12-13, 64-bit stream id 0 in words 14-15, as rand_chacha 0.3 lays it out).


def _rotl32(x, n):
    return ((x << n) | (x >> (32 - n))) & M32


def _quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & M32
    s[d] = _rotl32(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & M32
    s[b] = _rotl32(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & M32
    s[d] = _rotl32(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & M32
    s[b] = _rotl32(s[b] ^ s[c], 7)


def chacha_block(key_words, counter, double_rounds=4):
    """One 64-byte ChaCha block as 16 little-endian words."""
    init = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574] + list(key_words)
    init += [counter & M32, counter >> 32, 0, 0]
    s = list(init)
    for _ in range(double_rounds):
        _quarter(s, 0, 4, 8, 12)
        _quarter(s, 1, 5, 9, 13)
        _quarter(s, 2, 6, 10, 14)
        _quarter(s, 3, 7, 11, 15)
        _quarter(s, 0, 5, 10, 15)
        _quarter(s, 1, 6, 11, 12)
        _quarter(s, 2, 7, 8, 13)
        _quarter(s, 3, 4, 9, 14)
    return [(x + y) & M32 for x, y in zip(s, init)]


class ChaCha8Rng:
    """rand_chacha's ChaCha8Rng: a word stream read block after block; a u64 is two words, low
    first (the reads here are all u64 from a fresh generator, so one never straddles a block)."""

    def __init__(self, seed_bytes):
        self.key = [int.from_bytes(seed_bytes[4 * i : 4 * i + 4], "little") for i in range(8)]
        self.counter = 0
        self.words = []

    @classmethod
    def seed_from_u64(cls, state):
        # rand_core 0.6: PCG32 (XSH RR) advanced before each output, 8 outputs little-endian.
        seed = b""
        for _ in range(8):
            state = (state * 6364136223846793005 + 11634580027462260723) & M64
            xorshifted = (((state >> 18) ^ state) >> 27) & M32
            rot = state >> 59
            x = ((xorshifted >> rot) | (xorshifted << ((32 - rot) & 31))) & M32
            seed += x.to_bytes(4, "little")
        return cls(seed)

    def next_u32(self):
        if not self.words:
            self.words = chacha_block(self.key, self.counter)
            self.counter += 1
        return self.words.pop(0)

    def next_u64(self):
        lo = self.next_u32()
        return lo | (self.next_u32() << 32)

    def gen_range(self, low, high):
        """rand 0.8's `gen_range(low..high)` for u64: the high word of v * range, rejecting v
        whose low word is above the zone."""
        span = high - low
        zone = ((span << (64 - span.bit_length())) - 1) & M64
        while True:
            product = self.next_u64() * span
            if product & M64 <= zone:
                return low + (product >> 64)


def round_constants():
    rng = ChaCha8Rng.seed_from_u64(0)
    return [rng.gen_range(0, P) for _ in range(WIDTH * ROUNDS)]


ROUND_CONSTANTS = round_constants()

# ---------------------------------------------------------------------------------------------
# The permutation and plonky2's two sponge modes.

MDS = [[MDS_CIRC[(c - r) % WIDTH] + (MDS_DIAG[r] if c == r else 0) for c in range(WIDTH)] for r in range(WIDTH)]


def permute(state):
    assert len(state) == WIDTH
    s = [x % P for x in state]
    for r in range(ROUNDS):
        rc = ROUND_CONSTANTS[WIDTH * r : WIDTH * (r + 1)]
        s = [(x + c) % P for x, c in zip(s, rc)]
        full = r < HALF_FULL_ROUNDS or r >= HALF_FULL_ROUNDS + PARTIAL_ROUNDS
        if full:
            s = [pow(x, 7, P) for x in s]
        else:
            s[0] = pow(s[0], 7, P)
        s = [sum(m * x for m, x in zip(row, s)) % P for row in MDS]
    return s


def hash_no_pad(message):
    state = [0] * WIDTH
    for i in range(0, len(message), RATE):
        chunk = message[i : i + RATE]
        state[: len(chunk)] = [x % P for x in chunk]
        state = permute(state)
    return state[:4]


def two_to_one(left, right):
    return permute(list(left) + list(right) + [0] * (WIDTH - 8))[:4]


EMPTY = (0, 0, 0, 0)


def merkle_root(leaves, depth):
    """Fixed-depth tree over `leaves` in order, empty leaves 0, inner node two_to_one; only the
    non-empty prefix is hashed, empty subtrees are carried up one hash per level."""
    if len(leaves) > 2**depth:
        raise ValueError(f"{len(leaves)} leaves exceed depth {depth}")
    empty = list(EMPTY)
    level = [list(x) for x in leaves]
    for _ in range(depth):
        level = [two_to_one(level[i], level[i + 1] if i + 1 < len(level) else empty) for i in range(0, len(level), 2)]
        empty = two_to_one(empty, empty)
    return level[0] if level else empty


def to_hex(digest):
    return "0x" + "".join(f"{x:016x}" for x in digest)


# ---------------------------------------------------------------------------------------------
# SPEC's data rules, royalty rule and Goldilocks commitments.

K = 8


def as_int(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{what}: not an integer: {value!r}")
    if isinstance(value, str):
        if not re.fullmatch(r"-?\d+|0x[0-9a-fA-F]+", value):
            raise ValueError(f"{what}: not an integer: {value!r}")
        return int(value, 0)
    return value


def read_epoch(e):
    epoch_id = as_int(e["epoch_id"], "epoch_id")
    rate = as_int(e["rate_bps"], "rate_bps")
    if not 0 <= epoch_id <= M64:
        raise ValueError("epoch_id not u64")
    if not 0 <= rate <= 10000:
        raise ValueError("rate_bps not in 0..=10000")
    queries = []
    prev = -1
    for n, q in enumerate(e["queries"]):
        qid = as_int(q["query_id"], f"query {n} query_id")
        fee = as_int(q["fee"], f"query {qid} fee")
        if not 0 <= qid <= M64 or qid <= prev:
            raise ValueError(f"query {qid}: query_id not a u64 above the previous one")
        prev = qid
        if not 0 <= fee < 2**48:
            raise ValueError(f"query {qid}: fee not below 2^48")
        used = q.get("slots", [])
        if len(used) > K:
            raise ValueError(f"query {qid}: more than {K} slots")
        slots = []
        prev_adapter = 0
        for j, s in enumerate(used):
            adapter = as_int(s["adapter_id"], f"query {qid} slot {j} adapter_id")
            gate = as_int(s["gate"], f"query {qid} slot {j} gate")
            score = as_int(s["score"], f"query {qid} slot {j} score")
            if not prev_adapter < adapter <= M32:
                raise ValueError(f"query {qid} slot {j}: adapter ids not nonzero u32, increasing")
            prev_adapter = adapter
            if not 0 <= gate <= 0xFFFF:
                raise ValueError(f"query {qid} slot {j}: gate not u16")
            if not -(2**31) <= score < 2**31:
                raise ValueError(f"query {qid} slot {j}: score not i32")
            slots.append((adapter, gate, score))
        slots += [(0, 0, 0)] * (K - len(slots))
        queries.append((qid, fee, slots))
    return epoch_id, rate, queries


def settle(rate, queries):
    by_adapter = {}
    total_pool = 0
    treasury = 0
    for qid, fee, slots in queries:
        pool = fee * rate // 10000
        w = [gate * max(0, score) for _, gate, score in slots]
        total_w = sum(w)
        shared = 0
        for (adapter, _, _), wj in zip(slots, w):
            share = 0 if total_w == 0 else pool * wj // total_w
            shared += share
            if adapter != 0:
                by_adapter[adapter] = by_adapter.get(adapter, 0) + share
        total_pool += pool
        treasury += pool - shared
    if total_pool > M64:
        raise ValueError("total pool exceeds u64")
    payouts = sorted(by_adapter.items())
    total_paid = sum(v for _, v in payouts)
    if total_paid + treasury != total_pool:
        raise AssertionError("conservation fails (bug in this script)")
    return total_pool, total_paid, treasury, payouts


def activation_leaf(qid, fee, slots):
    acts = [adapter + (gate << 32) for adapter, gate, _ in slots]
    return hash_no_pad([1, qid & M32, qid >> 32, fee] + acts)


def influence_leaf(qid, slots):
    message = [2, qid & M32, qid >> 32]
    for adapter, _, score in slots:
        message += [adapter, score & M32]
    return hash_no_pad(message)


def payout_leaf(adapter, amount):
    return hash_no_pad([adapter, amount & M32, amount >> 32])


def commitment(tag, root, count):
    return hash_no_pad([tag] + list(root) + [count])


def expected_table(epoch_json):
    epoch_id, rate, queries = read_epoch(epoch_json)
    total_pool, total_paid, treasury, payouts = settle(rate, queries)
    n = len(queries)
    activation_root = merkle_root([activation_leaf(q, f, s) for q, f, s in queries], 32)
    influence_root = merkle_root([influence_leaf(q, s) for q, _, s in queries], 32)
    payout_root = merkle_root([payout_leaf(a, v) for a, v in payouts], 20)
    return {
        "epoch_id": epoch_id,
        "rate_bps": rate,
        "n_queries": n,
        "n_payees": len(payouts),
        "total_pool": total_pool,
        "total_paid": total_paid,
        "treasury": treasury,
        "payouts": payouts,
        "activation_commitment": to_hex(commitment(4, activation_root, n)),
        "influence_commitment": to_hex(commitment(4, influence_root, n)),
        "payout_commitment": to_hex(commitment(3, payout_root, len(payouts))),
    }


# ---------------------------------------------------------------------------------------------
# Checks.

passed = 0
failed = 0


def report(name, mismatches):
    global passed, failed
    if mismatches:
        failed += 1
        for m in mismatches:
            print(f"MISMATCH {name} {m}")
    else:
        passed += 1
        print(f"ok {name}")


def twin_table():
    """The round-constant table of the Rust twin, read from its source (between the
    `ROUND_CONSTANTS` declaration and the closing `];`)."""
    text = open(TWIN_SOURCE, encoding="utf-8").read()
    match = re.search(r"const ROUND_CONSTANTS: \[u64; [^\]]*\] = \[(.*?)\];", text, re.S)
    if not match:
        return None
    return [int(h, 16) for h in re.findall(r"0x([0-9a-fA-F_]+)", match.group(1).replace("_", ""))]


def self_checks():
    bad = []
    if not all(0 <= c < P for c in ROUND_CONSTANTS):
        bad.append("round_constants all_below_p not_all_below_p")
    try:
        table = twin_table()
        if table is None:
            bad.append(f"twin_round_constants a_table_in_{TWIN_SOURCE} missing")
    except OSError as e:
        table = None
        bad.append(f"twin_round_constants readable {str(e)!r}")
    if table is not None and table != ROUND_CONSTANTS:
        diff = [i for i in range(max(len(table), len(ROUND_CONSTANTS))) if table[i : i + 1] != ROUND_CONSTANTS[i : i + 1]]
        bad.append(f"twin_round_constants {len(ROUND_CONSTANTS)}_regenerated differ_at_{diff[:5]}")
    if bad:
        global failed
        failed += 1
        for m in bad:
            print(f"MISMATCH selfcheck {m}")
    else:
        print(
            f"selfcheck ok: {len(ROUND_CONSTANTS)} round constants regenerated by ChaCha8(seed 0) "
            f"equal verifier/src/goldilocks/poseidon.rs (first 0x{ROUND_CONSTANTS[0]:016x}, "
            f"last 0x{ROUND_CONSTANTS[-1]:016x})"
        )


def check_hash_vectors(name, doc):
    bad = []
    sections = [("permutation", permute), ("hash_no_pad", hash_no_pad), ("two_to_one", None)]
    count = 0
    for section, fn in sections:
        items = doc.get(section)
        if not isinstance(items, list) or not items:
            bad.append(f"{section} a_nonempty_list {items!r}")
            continue
        for i, v in enumerate(items):
            try:
                if section == "two_to_one":
                    got = two_to_one([as_int(x, section) for x in v["left"]], [as_int(x, section) for x in v["right"]])
                else:
                    got = fn([as_int(x, section) for x in v["input"]])
                want = [as_int(x, section) for x in v["output"]]
            except (KeyError, TypeError, ValueError) as e:
                bad.append(f"{section}[{i}] a_valid_vector {str(e)!r}")
                continue
            count += 1
            if got != want:
                bad.append(f"{section}[{i}].output {want} {got}")
    report(f"{name} ({count} hash vectors)", bad)


def check_epoch_vector(name, doc):
    want = doc.get("goldilocks")
    if not isinstance(want, dict):
        return report(name, ["goldilocks an_object missing"])
    try:
        got = expected_table(doc["epoch"])
    except (KeyError, TypeError, ValueError) as e:
        return report(name, [f"epoch a_valid_epoch {str(e)!r}"])
    bad = []
    if want.get("family") != "goldilocks":
        bad.append(f"family goldilocks {want.get('family')!r}")
    for field in ["epoch_id", "rate_bps", "n_queries", "n_payees", "total_pool", "total_paid", "treasury"]:
        if want.get(field) != got[field]:
            bad.append(f"{field} {want.get(field)!r} {got[field]}")
    want_payouts = [(p.get("adapter_id"), p.get("amount")) for p in want.get("payouts", [])]
    if want_payouts != got["payouts"]:
        bad.append(f"payouts {want_payouts} {got['payouts']}")
    for field in ["activation_commitment", "influence_commitment", "payout_commitment"]:
        if want.get(field) != got[field]:
            bad.append(f"{field} {want.get(field)} {got[field]}")
    report(name, bad)


def hash_vector_inputs():
    """Fixed inputs: edge values, then elements derived from SHA-256 of a counter."""
    import hashlib

    counter = [0]

    def element():
        counter[0] += 1
        return int.from_bytes(hashlib.sha256(b"zkattr goldilocks %d" % counter[0]).digest()[:8], "little") % P

    states = [[0] * WIDTH, list(range(WIDTH)), [P - 1] * WIDTH]
    states += [[element() for _ in range(WIDTH)] for _ in range(3)]
    messages = [[], [0], [1], [P - 1] * 4]
    messages += [[element() for _ in range(n)] for n in (1, 3, 7, 8, 9, 12, 16, 17, 22, 40)]
    pairs = [([0] * 4, [0] * 4), ([1, 2, 3, 4], [5, 6, 7, 8]), ([P - 1] * 4, [P - 1] * 4)]
    pairs += [([element() for _ in range(4)], [element() for _ in range(4)]) for _ in range(3)]
    return states, messages, pairs


def write_hash_vectors():
    states, messages, pairs = hash_vector_inputs()
    doc = {
        "description": "Goldilocks Poseidon (width 12) vectors written by scripts/goldilocks-check/check.py",
        "permutation": [{"input": s, "output": permute(s)} for s in states],
        "hash_no_pad": [{"input": m, "output": hash_no_pad(m)} for m in messages],
        "two_to_one": [{"left": l, "right": r, "output": two_to_one(l, r)} for l, r in pairs],
    }
    os.makedirs(os.path.dirname(HASH_VECTORS), exist_ok=True)
    text = json.dumps(doc, indent=1)
    # One line per list of elements.
    text = re.sub(r"\[\s*([0-9,\s]*?)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)
    with open(HASH_VECTORS, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(f"wrote {HASH_VECTORS}")
    return 0


def main(args):
    if args == ["--write-hash-vectors"]:
        return write_hash_vectors()
    self_checks()
    if args:
        files = args
    else:
        files = sorted(os.path.join(VECTORS_DIR, f) for f in os.listdir(VECTORS_DIR) if f.endswith(".json"))
        files.append(HASH_VECTORS)
    checked_any = False
    for path in files:
        base = os.path.splitext(os.path.basename(path))[0]
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            report(base, [f"file readable_json {str(e)!r}"])
            continue
        if isinstance(doc, dict) and "permutation" in doc:
            check_hash_vectors(base, doc)
        elif isinstance(doc, dict) and "epoch" in doc:
            check_epoch_vector(doc.get("name", base), doc)
        elif args:
            report(base, ["file an_epoch_or_hash_vector_file neither"])
            continue
        else:
            continue
        checked_any = True
    print(f"goldilocks-check: {passed} passed, {failed} failed")
    return 0 if failed == 0 and checked_any else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
