#!/usr/bin/env node
// The settlement flow on a real local chain node (issue 7 item 5): ganache 7.9.2 started
// in-process, driven with ethers 5.8.0 over its EIP-1193 provider, with mined transactions.
//
// Deploys the Solidity verifier committed in fixtures/Halo2Verifier.sol (generated from the
// fixture bundle's key; a Rust test fails if either drifts), MiniToken and Settlement (with
// OpenZeppelin 4.9.6); registers both commitments; settles the fixture's 16x16 proof (the
// treasury residual goes to the treasury); every payee's owner claims its amount to a recipient
// with a path computed here from the payout table (circomlibjs Poseidon, independent of the Rust
// code and of the contract's own Poseidon); the last two payees share an owner who claims both
// in one transaction. The negative cases must revert, both as eth_call (where the revert reason
// is checked) and as a mined transaction (receipt status 0): tampered proof byte, proof of the
// wrong length, changed public input, unregistered and mismatched commitments, wrong rate, wrong
// payout opening, double settle, claim by a non-owner, amount off by one, wrong sibling, wrong
// index, index beyond the payees, double claim.
//
// Usage: node scripts/chain-test.js [BUNDLE_DIR]   (exit status 1 on any failure)
'use strict';
const fs = require('fs');
const path = require('path');
const assert = require('assert');
const ganache = require('ganache');
const { ethers } = require('ethers');
const { buildPoseidon } = require('circomlibjs');
const { compileFiles } = require('./compile.js');

const ROOT = path.join(__dirname, '..');
const FIXTURES = path.join(ROOT, 'fixtures');
const CONTRACTS = path.join(ROOT, 'contracts');
const EIP170_LIMIT = 24576;
const PAYOUT_DEPTH = 20;
const TX_GAS = 5000000;

function word(x) {
  return ethers.utils.hexZeroPad(ethers.BigNumber.from(x).toHexString(), 32);
}

function readBundle(dir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'bundle.json'), 'utf8'));
  assert.strictEqual(manifest.backend, 'halo2', 'a halo2 bundle is needed');
  const pi = manifest.public_inputs;
  const instances = [
    pi.epoch_id,
    pi.rate_bps,
    pi.activation_commitment,
    pi.influence_commitment,
    pi.n_queries,
    pi.total_pool,
    pi.total_paid,
    pi.treasury,
    pi.payout_commitment,
  ].map((x) => ethers.BigNumber.from(x));
  const proof = fs.readFileSync(path.join(dir, manifest.proof_file));
  return { manifest, instances, proof: ethers.utils.hexlify(proof), payouts: manifest.payouts.payouts };
}

// SPEC's payout tree: depth 20, leaf H2(adapter, amount), empty leaves 0, node H2(left, right).
function payoutTree(poseidon, payouts) {
  const F = poseidon.F;
  const h2 = (a, b) => F.toObject(poseidon([a, b]));
  const empty = [0n];
  for (let h = 0; h < PAYOUT_DEPTH; h++) empty.push(h2(empty[h], empty[h]));
  const levels = [payouts.map((p) => h2(BigInt(p.adapter_id), BigInt(p.amount)))];
  for (let h = 0; h < PAYOUT_DEPTH; h++) {
    const below = levels[h];
    const next = [];
    for (let i = 0; i < below.length; i += 2) {
      next.push(h2(below[i], i + 1 < below.length ? below[i + 1] : empty[h]));
    }
    if (next.length === 0) next.push(empty[h + 1]);
    levels.push(next);
  }
  const path = (index) => {
    const siblings = [];
    let position = index;
    for (let h = 0; h < PAYOUT_DEPTH; h++) {
      const s = position ^ 1;
      siblings.push(s < levels[h].length ? levels[h][s] : empty[h]);
      position >>= 1;
    }
    return siblings;
  };
  return { root: levels[PAYOUT_DEPTH][0], path };
}

async function main() {
  const started = Date.now();
  const bundleDir = process.argv[2] || path.join(FIXTURES, 'halo2-16x16');
  const b = readBundle(bundleDir);
  const epoch = b.instances[0];
  const rateBps = b.instances[1].toNumber();
  const totalPaid = b.instances[6];

  const compiled = {
    ...compileFiles([path.join(FIXTURES, 'Halo2Verifier.sol')]),
    // Settlement with the optimizer, like zkattr-evm's Deployment (SETTLEMENT_OPTIMIZED).
    ...compileFiles([path.join(CONTRACTS, 'Settlement.sol'), path.join(CONTRACTS, 'PoseidonSponge.sol')], true),
    ...compileFiles([path.join(CONTRACTS, 'MiniToken.sol')]),
  };
  const compiledAt = Date.now();

  const node = ganache.provider({
    logging: { quiet: true },
    wallet: { totalAccounts: 24, deterministic: true },
    chain: { hardfork: 'shanghai', vmErrorsOnRPCResponse: false },
    miner: { blockGasLimit: 30000000 },
  });
  const provider = new ethers.providers.Web3Provider(node);
  const [deployer, operator, engine, registrar, payer, claimer, stranger, guardian, treasury] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8,
  ].map((i) => provider.getSigner(i));
  // Payee i's adapter is owned by account 10 + i; the last two payees share one owner.
  const addr = async (s) => s.getAddress();

  const deploy = async (name, abi, bytecode, args = []) => {
    const c = await new ethers.ContractFactory(abi, bytecode, deployer).deploy(...args, { gasLimit: 15000000 });
    await c.deployed();
    const size = ethers.utils.hexDataLength(await provider.getCode(c.address));
    assert(size > 0 && size <= EIP170_LIMIT, `${name}: deployed code ${size} bytes`);
    return { contract: c, size };
  };
  const verifier = await deploy('Halo2Verifier', [], compiled.Halo2Verifier.bytecode);
  const token = (await deploy('MiniToken', compiled.MiniToken.abi, compiled.MiniToken.bytecode)).contract;
  const proofLen = ethers.utils.hexDataLength(b.proof);
  const settlementArgs = async (engineAddress) => [
    await addr(deployer),
    verifier.contract.address,
    proofLen,
    token.address,
    1,
    [await addr(operator), engineAddress, await addr(registrar), await addr(guardian), await addr(treasury)],
    rateBps,
    30 * 86400,
    2 * 86400,
  ];
  const settlement = (
    await deploy('Settlement', compiled.Settlement.abi, compiled.Settlement.bytecode, await settlementArgs(await addr(engine)))
  ).contract;
  const iface = settlement.interface;

  // Sends a mined transaction; returns its receipt (status 0 on revert, no throw).
  const send = async (signer, to, data) => {
    const tx = await signer.sendTransaction({ to, data, gasLimit: TX_GAS });
    return provider.waitForTransaction(tx.hash);
  };
  const ok = async (label, signer, to, data) => {
    const r = await send(signer, to, data);
    assert.strictEqual(r.status, 1, `${label}: reverted`);
    return r.gasUsed.toNumber();
  };
  const reason = (data) => {
    if (data === undefined || data === null) return undefined;
    if (typeof data === 'object') data = data.result || data.data;
    if (data === '0x') return 'empty';
    if (data.startsWith('0x08c379a0')) {
      return `Error(${ethers.utils.defaultAbiCoder.decode(['string'], '0x' + data.slice(10))[0]})`;
    }
    try {
      const e = iface.parseError(data);
      return e.args.length > 0 ? `${e.name}(${e.args.map(String).join(',')})` : e.name;
    } catch (_) {
      return data;
    }
  };
  let negatives = 0;
  // Must revert with `expected` under eth_call and leave a status-0 receipt when mined.
  const reverts = async (label, signer, to, data, expected) => {
    let why;
    try {
      await node.request({
        method: 'eth_call',
        params: [{ from: await addr(signer), to, data, gas: ethers.utils.hexValue(TX_GAS) }, 'latest'],
      });
    } catch (e) {
      why = reason(e.data) || 'no data';
    }
    assert(why !== undefined, `${label}: eth_call did not revert`);
    assert.strictEqual(why, expected, `${label}: reverted with ${why}, expected ${expected}`);
    const r = await send(signer, to, data);
    assert.strictEqual(r.status, 0, `${label}: the mined transaction succeeded`);
    negatives += 1;
  };

  const verifierData = (instances, proof) =>
    ethers.utils.hexConcat([...instances.map(word), proof]);
  const flip = (hex, byte) => {
    const bytes = ethers.utils.arrayify(hex);
    bytes[byte] ^= 1;
    return ethers.utils.hexlify(bytes);
  };
  const bump = (instances, i) => instances.map((x, j) => (j === i ? x.add(1) : x));

  // The verifier alone.
  const V = verifier.contract.address;
  const verifyGas = await ok('verify', payer, V, verifierData(b.instances, b.proof));
  for (const byte of [0, proofLen >> 1, proofLen - 1]) {
    await reverts(`verify, proof byte ${byte} flipped`, payer, V, verifierData(b.instances, flip(b.proof, byte)), 'empty');
  }
  for (const i of [0, 2, 6, 8]) {
    await reverts(`verify, public input ${i} changed`, payer, V, verifierData(bump(b.instances, i), b.proof), 'empty');
  }

  // Funding, and the payout opening.
  const poseidon = await buildPoseidon();
  const tree = payoutTree(poseidon, b.payouts);
  const nPayees = b.payouts.length;
  const totalPool = b.instances[5];
  await ok('mint', deployer, token.address, token.interface.encodeFunctionData('mint', [await addr(payer), totalPool]));
  await ok('approve', payer, token.address, token.interface.encodeFunctionData('approve', [settlement.address, totalPool]));

  const S = settlement.address;
  const settleData = (instances, proof, root = tree.root, n = nPayees, ep = epoch) =>
    iface.encodeFunctionData('settle', [ep, instances, proof, root, n]);
  const register = (which, e, c) => iface.encodeFunctionData(which, [e, c]);

  await reverts('settle before registration', payer, S, settleData(b.instances, b.proof), 'NotRegistered');
  await reverts('activation registered by a stranger', stranger, S, register('registerActivation', epoch, b.instances[2]), 'NotAuthorized');
  await reverts('influence registered by the operator', operator, S, register('registerInfluence', epoch, b.instances[3]), 'NotAuthorized');
  const registerActivationGas = await ok('register activation', operator, S, register('registerActivation', epoch, b.instances[2]));
  await reverts('activation registered twice', operator, S, register('registerActivation', epoch, b.instances[2]), 'AlreadyRegistered');
  await reverts('settle with only the activation commitment', payer, S, settleData(b.instances, b.proof), 'NotRegistered');
  const registerInfluenceGas = await ok('register influence', engine, S, register('registerInfluence', epoch, b.instances[3]));

  // A second settlement contract whose engine registered a different influence commitment.
  const other = (
    await deploy('Settlement (mismatch)', compiled.Settlement.abi, compiled.Settlement.bytecode, await settlementArgs(await addr(engine)))
  ).contract;
  await ok('register activation (mismatch)', operator, other.address, register('registerActivation', epoch, b.instances[2]));
  await ok('register influence (mismatch)', engine, other.address, register('registerInfluence', epoch, b.instances[3].add(1)));
  await reverts('settle against a mismatched influence commitment', payer, other.address, settleData(b.instances, b.proof), 'InstanceMismatch(3)');

  await reverts('settle with a flipped proof byte', payer, S, settleData(b.instances, flip(b.proof, 100)), 'ProofRejected');
  await reverts('settle with a byte appended to the proof', payer, S, settleData(b.instances, ethers.utils.hexConcat([b.proof, '0x00'])), `ProofLength(${proofLen + 1},${proofLen})`);
  await reverts('settle with changed total_paid', payer, S, settleData(bump(b.instances, 6), b.proof), 'ProofRejected');
  await reverts('settle with changed n_queries', payer, S, settleData(bump(b.instances, 4), b.proof), 'ProofRejected');
  await reverts('settle with a changed activation commitment', payer, S, settleData(bump(b.instances, 2), b.proof), 'InstanceMismatch(2)');
  await reverts('settle with a wrong rate', payer, S, settleData(bump(b.instances, 1), b.proof), 'InstanceMismatch(1)');
  await reverts('settle another epoch', payer, S, settleData(b.instances, b.proof, tree.root, nPayees, epoch.add(1)), 'NotRegistered');
  await reverts('settle with a wrong payout root', payer, S, settleData(b.instances, b.proof, tree.root + 1n), 'PayoutOpeningMismatch');
  await reverts('settle with a wrong n_payees', payer, S, settleData(b.instances, b.proof, tree.root, nPayees + 1), 'PayoutOpeningMismatch');
  const settleGas = await ok('settle', payer, S, settleData(b.instances, b.proof));
  await reverts('settle twice', payer, S, settleData(b.instances, b.proof), 'AlreadySettled');
  assert(ethers.BigNumber.from(await token.balanceOf(S)).eq(totalPaid), 'settlement holds total_paid');
  assert(ethers.BigNumber.from(await token.balanceOf(await addr(treasury))).eq(b.instances[7]), 'the treasury got its residual');

  // Claims: every payee's owner claims to its own recipient; the last two share an owner.
  const item = (adapter, amount, index, siblings, ep = epoch) => ({ epoch: ep, adapter, amount, index, siblings });
  const claimData = (items, recipient) => iface.encodeFunctionData('claim', [items, recipient]);
  const ownerIndex = (i) => 10 + Math.min(i, nPayees - 2);
  const recipientOf = (adapter) => ethers.utils.getAddress(word(0x1000 + adapter).slice(-40));
  let claimGas;
  let pairGas;
  for (let i = 0; i < nPayees; i++) {
    const { adapter_id: adapter, amount } = b.payouts[i];
    const siblings = tree.path(i);
    const owner = provider.getSigner(ownerIndex(i));
    const recipient = recipientOf(adapter);
    const one = (it) => claimData([it], recipient);
    if (i === 0) {
      await reverts('claim before the owner is registered', owner, S, one(item(adapter, amount, i, siblings)), 'NotAuthorized');
    }
    await ok('register owner', registrar, S, iface.encodeFunctionData('registerAdapter', [adapter, await addr(owner)]));
    if (i === 0) {
      await reverts('owner registered twice', registrar, S, iface.encodeFunctionData('registerAdapter', [adapter, await addr(stranger)]), 'OwnerAlreadySet');
      await reverts('claim by another account', claimer, S, one(item(adapter, amount, i, siblings)), 'NotAuthorized');
      await reverts('claim on an unsettled epoch', owner, S, one(item(adapter, amount, i, siblings, epoch.add(1))), 'NotSettled');
      await reverts('claim amount + 1', owner, S, one(item(adapter, amount + 1, i, siblings)), 'BadPath');
      await reverts('claim amount - 1', owner, S, one(item(adapter, amount - 1, i, siblings)), amount > 1 ? 'BadPath' : 'ZeroAmount');
      const bent = siblings.slice();
      bent[3] = bent[3] + 1n;
      await reverts('claim with a wrong sibling', owner, S, one(item(adapter, amount, i, bent)), 'BadPath');
      await reverts('claim with a wrong index', owner, S, one(item(adapter, amount, i ^ 1, siblings)), 'BadPath');
      await reverts('claim with an index beyond the payees', owner, S, one(item(adapter, amount, nPayees, siblings)), `IndexBeyondPayees(${nPayees},${nPayees})`);
      await reverts('claim for another adapter', owner, S, one(item(adapter + 1000, amount, i, siblings)), 'NotAuthorized');
    }
    if (i === nPayees - 2) continue; // claimed with the last payee below
    if (i === nPayees - 1) {
      const prev = b.payouts[i - 1];
      const items = [item(prev.adapter_id, prev.amount, i - 1, tree.path(i - 1)), item(adapter, amount, i, siblings)];
      pairGas = await ok('claim two payees in one transaction', owner, S, claimData(items, recipient));
      assert(ethers.BigNumber.from(await token.balanceOf(recipient)).eq(prev.amount + amount), `recipient of ${adapter} was paid both`);
      continue;
    }
    const gas = await ok(`claim ${adapter}`, owner, S, one(item(adapter, amount, i, siblings)));
    claimGas = claimGas === undefined ? gas : Math.max(claimGas, gas);
    assert(ethers.BigNumber.from(await token.balanceOf(recipient)).eq(amount), `recipient of ${adapter} was paid ${amount}`);
    if (i === 0) {
      await reverts('double claim', owner, S, one(item(adapter, amount, i, siblings)), 'AlreadyClaimed');
    }
  }
  assert(ethers.BigNumber.from(await token.balanceOf(S)).isZero(), 'every token was claimed');
  await node.disconnect();

  const seconds = (ms) => (ms / 1000).toFixed(1);
  console.log(`ok: ganache 7.9.2 chain, epoch ${epoch} settled and all ${nPayees} payees claimed; ${negatives} negative cases reverted`);
  console.log(`verifier deployed code    ${verifier.size} bytes (EIP-170 limit ${EIP170_LIMIT})`);
  console.log(`verify (direct call)      ${verifyGas} gas`);
  console.log(`register activation       ${registerActivationGas} gas`);
  console.log(`register influence        ${registerInfluenceGas} gas`);
  console.log(`settle                    ${settleGas} gas`);
  console.log(`claim (largest single)    ${claimGas} gas`);
  console.log(`claim (2 payees, one tx)  ${pairGas} gas`);
  console.log(`time: compile ${seconds(compiledAt - started)} s, chain ${seconds(Date.now() - compiledAt)} s`);
}

main().catch((e) => {
  process.stderr.write(`chain test FAILED: ${e.stack || e}\n`);
  process.exit(1);
});
