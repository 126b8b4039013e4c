#!/usr/bin/env node
// Compiles Solidity files with the pinned solc-js 0.8.19 and prints, as JSON on stdout,
// {"ContractName": {"bytecode": "0x..", "deployed": "0x..", "abi": [...]}} for every contract.
// Optimizer off: snark-verifier's generated verifier hits "Stack too deep" in the Yul optimizer,
// and viaIR miscompiles it (FIELD-NOTES). Usage: node compile.js [--optimize] FILE.sol [FILE.sol ...];
// or require('./compile.js').compileFiles(files, optimize) from another script. Imports of
// `@openzeppelin/...` resolve to node_modules (OpenZeppelin Contracts 4.9.6, `pragma ^0.8.0`).
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

/// Compiles `files`; returns {name: {bytecode, deployed, abi}} or throws with solc's errors.
/// `optimize`: the optimizer at 200 runs (for the hand-written contracts; never the verifier).
function compileFiles(files, optimize = false) {
  const sources = {};
  for (const f of files) {
    sources[path.basename(f)] = { content: fs.readFileSync(f, 'utf8') };
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      optimizer: optimize ? { enabled: true, runs: 200 } : { enabled: false },
      evmVersion: 'paris',
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };
  const findImports = (name) => {
    const candidates = [path.join(__dirname, '..', 'node_modules', name), ...files.map((f) => path.join(path.dirname(f), name))];
    for (const c of candidates) {
      if (fs.existsSync(c)) return { contents: fs.readFileSync(c, 'utf8') };
    }
    return { error: `import not found: ${name}` };
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (out.errors || []).filter((e) => e.severity === 'error');
  if (errors.length > 0) {
    throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
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
  return result;
}

module.exports = { compileFiles };

if (require.main === module) {
  let files = process.argv.slice(2);
  const optimize = files[0] === '--optimize';
  if (optimize) files = files.slice(1);
  if (files.length === 0) {
    process.stderr.write('usage: compile.js [--optimize] FILE.sol [FILE.sol ...]\n');
    process.exit(2);
  }
  let result;
  try {
    result = compileFiles(files, optimize);
  } catch (e) {
    process.stderr.write(e.message + '\n');
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(result));
}
