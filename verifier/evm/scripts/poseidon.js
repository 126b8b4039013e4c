#!/usr/bin/env node
// Prints circomlib's Poseidon(2) contract creation code (circomlibjs poseidonContract), 0x hex.
'use strict';
const { poseidonContract } = require('circomlibjs');
process.stdout.write(poseidonContract.createCode(2));
