#!/usr/bin/env node
// Prints circomlib's Poseidon(2) contract creation code (circomlibjs poseidonContract), 0x hex;
// with arguments `hash A B [A B ...]` (decimal or 0x), prints circomlibjs's Poseidon([A, B]) of
// each pair as 0x-prefixed 32-byte hex, one a line: the reference the in-contract hash is tested
// against.
'use strict';
const { poseidonContract, buildPoseidon } = require('circomlibjs');

async function main() {
  const args = process.argv.slice(2);
  if (args[0] !== 'hash') {
    process.stdout.write(poseidonContract.createCode(2));
    return;
  }
  const poseidon = await buildPoseidon();
  const lines = [];
  for (let i = 1; i + 1 < args.length; i += 2) {
    const h = poseidon.F.toObject(poseidon([BigInt(args[i]), BigInt(args[i + 1])]));
    lines.push('0x' + h.toString(16).padStart(64, '0'));
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
