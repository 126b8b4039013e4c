#!/usr/bin/env node
// Compiles Solidity files with the pinned solc-js 0.8.19 and prints, as JSON on stdout,
// {"ContractName": {"bytecode": "0x..", "deployed": "0x..", "abi": [...]}} for every contract.
// Optimizer off: snark-verifier's generated verifier hits "Stack too deep" in the Yul optimizer,
// and viaIR miscompiles it (FIELD-NOTES). Usage: node compile.js FILE.sol [FILE.sol ...]
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: compile.js FILE.sol [FILE.sol ...]\n');
  process.exit(2);
}
const sources = {};
for (const f of files) {
  sources[path.basename(f)] = { content: fs.readFileSync(f, 'utf8') };
}
const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: false },
    evmVersion: 'paris',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
if (errors.length > 0) {
  for (const e of errors) process.stderr.write(e.formattedMessage + '\n');
  process.exit(1);
}
const result = {};
for (const file of Object.keys(out.contracts || {})) {
  for (const [name, c] of Object.entries(out.contracts[file])) {
    result[name] = {
      bytecode: '0x' + c.evm.bytecode.object,
      deployed: '0x' + c.evm.deployedBytecode.object,
      abi: c.abi,
    };
  }
}
process.stdout.write(JSON.stringify(result));
