//! Settlement.sol's security rules in revm, each a revert with its named reason. Most tests
//! stand an accept-all contract in for the verifier, so a settlement's public inputs can be
//! chosen freely (the rules checked here are the contract's own, not the proof's); the proof
//! length rule and the gas figures use the real verifier and the committed fixture.

mod common;

use common::{fixture, fixtures_dir, reason, u64_of};
use zkattr_evm::{abi, address, settlement_args, Address, Claim, DeployConfig, Deployment, U256};
use zkattr_halo2::poseidon::{hash, Fr};
use zkattr_halo2::Bn254Family;
use zkattr_model::commit::payout_tree;
use zkattr_model::rule::Payout;

/// Stands in for the generated verifier: accepts every call.
const ACCEPT_ALL: &str = "// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;
contract Halo2Verifier {
    fallback() external {}
}
";
const PROOF_LEN: usize = 64;
const RATE: u16 = 500;

/// An epoch's payout list, tree and public inputs (activation and influence commitments from
/// `logs`), paying `total_paid` with `treasury` to the treasury.
struct Epoch {
    id: u64,
    payouts: Vec<Payout>,
    root: Fr,
    instances: Vec<Fr>,
    claims: Vec<Claim>,
}

fn epoch(id: u64, logs: u64, payouts: &[(u32, u64)], total_paid: u64, treasury: u64) -> Epoch {
    let payouts: Vec<Payout> = payouts
        .iter()
        .map(|&(adapter_id, amount)| Payout { adapter_id, amount })
        .collect();
    let tree = payout_tree(&Bn254Family, &payouts).unwrap();
    let n = payouts.len() as u64;
    let commitment = hash(&[Fr::from(3), tree.root(), Fr::from(n)]);
    let instances = vec![
        Fr::from(id),
        Fr::from(u64::from(RATE)),
        Fr::from(1000 + logs),
        Fr::from(2000 + logs),
        Fr::from(1),
        Fr::from(total_paid + treasury),
        Fr::from(total_paid),
        Fr::from(treasury),
        commitment,
    ];
    let claims = payouts
        .iter()
        .enumerate()
        .map(|(i, p)| Claim {
            adapter: p.adapter_id,
            amount: p.amount,
            index: i as u32,
            siblings: tree.path(i as u64).unwrap().siblings,
        })
        .collect();
    Epoch {
        id,
        root: tree.root(),
        payouts,
        instances,
        claims,
    }
}

fn owner(adapter: u32) -> Address {
    address(1000 + u64::from(adapter))
}

fn deploy(config: DeployConfig) -> Deployment {
    Deployment::with_config(ACCEPT_ALL, &config).unwrap()
}

fn config() -> DeployConfig {
    DeployConfig::new(RATE, PROOF_LEN, 1_000_000)
}

fn register(d: &mut Deployment, e: &Epoch) {
    d.register_activation(e.id, &e.instances[2]).unwrap();
    d.register_influence(e.id, &e.instances[3]).unwrap();
}

fn settle(d: &mut Deployment, e: &Epoch) -> Result<u64, zkattr_evm::EvmError> {
    d.settle(
        e.id,
        &e.instances,
        &[7u8; PROOF_LEN],
        &e.root,
        e.payouts.len() as u64,
    )
}

fn registered_and_settled(d: &mut Deployment, e: &Epoch) {
    register(d, e);
    settle(d, e).unwrap();
}

#[test]
fn constructor_refuses_bad_addresses_and_parameters() {
    let mut d = deploy(config());
    let code = d.settlement_code.clone();
    let roles = [address(2), address(3), address(4), address(6), address(7)];
    let (admin, verifier, token) = (d.admin, d.verifier, d.token);
    let mut try_deploy = |admin, verifier, token, unit, roles, window| {
        let args = settlement_args(
            admin, verifier, PROOF_LEN, token, unit, roles, RATE, window, 1,
        );
        reason(d.chain.deploy(admin, "Settlement", &code, &args))
    };
    let no_code = address(12345);
    assert_eq!(
        try_deploy(admin, no_code, token, 1, roles, 1),
        format!("NoCode(0x{})", hex::encode(no_code))
    );
    assert_eq!(
        try_deploy(admin, verifier, Address::ZERO, 1, roles, 1),
        "ZeroAddress()"
    );
    let mut zero_role = roles;
    zero_role[2] = Address::ZERO;
    assert_eq!(
        try_deploy(admin, verifier, token, 1, zero_role, 1),
        "ZeroAddress()"
    );
    let mut equal = roles;
    equal[1] = equal[0];
    assert_eq!(
        try_deploy(admin, verifier, token, 1, equal, 1),
        "EqualRoles()"
    );
    let mut admin_role = roles;
    admin_role[4] = admin;
    assert_eq!(
        try_deploy(admin, verifier, token, 1, admin_role, 1),
        "EqualRoles()"
    );
    assert_eq!(
        try_deploy(admin, verifier, token, 0, roles, 1),
        "BadParameter()"
    );
    assert_eq!(
        try_deploy(admin, verifier, token, 1, roles, 0),
        "BadParameter()"
    );
}

#[test]
fn roles_rotate_in_two_steps_and_the_guardian_pauses() {
    let mut d = deploy(config());
    let new_operator = address(20);
    let role_operator = abi::word_u64(0);
    assert_eq!(
        reason(d.send(
            d.operator,
            "proposeRole(uint8,address)",
            &[role_operator, abi::word_address(new_operator)]
        )),
        "\"Ownable: caller is not the owner\""
    );
    assert_eq!(
        reason(d.send(
            d.admin,
            "proposeRole(uint8,address)",
            &[role_operator, abi::word_address(d.engine)]
        )),
        "EqualRoles()"
    );
    d.send(
        d.admin,
        "proposeRole(uint8,address)",
        &[role_operator, abi::word_address(new_operator)],
    )
    .unwrap();
    assert_eq!(
        reason(d.send(address(21), "acceptRole(uint8)", &[role_operator])),
        "NotAuthorized()"
    );
    d.send(new_operator, "acceptRole(uint8)", &[role_operator])
        .unwrap();
    let e = epoch(1, 1, &[(1, 10)], 10, 0);
    assert_eq!(
        reason(d.register_activation(e.id, &e.instances[2])),
        "NotAuthorized()",
        "the old operator lost the role"
    );
    d.register_from(new_operator, true, e.id, &e.instances[2])
        .unwrap();
    assert_eq!(
        reason(d.send(d.admin, "renounceOwnership()", &[])),
        "NotAuthorized()"
    );

    assert_eq!(
        reason(d.send(address(21), "pause()", &[])),
        "NotAuthorized()"
    );
    d.send(d.guardian, "pause()", &[]).unwrap();
    assert_eq!(
        reason(d.register_influence(e.id, &e.instances[3])),
        "\"Pausable: paused\""
    );
    assert_eq!(
        reason(d.send(d.guardian, "unpause()", &[])),
        "\"Ownable: caller is not the owner\""
    );
    d.send(d.admin, "unpause()", &[]).unwrap();
    d.register_influence(e.id, &e.instances[3]).unwrap();
}

#[test]
fn adapter_owners_are_set_once_and_move_by_owner_or_timelocked_override() {
    let mut d = deploy(config());
    let (a, first, second, third) = (5u32, address(50), address(51), address(52));
    let a_word = abi::word_u64(a.into());
    assert_eq!(
        reason(d.send(
            address(21),
            "registerAdapter(uint32,address)",
            &[a_word, abi::word_address(first)]
        )),
        "NotAuthorized()"
    );
    d.set_owner(a, first).unwrap();
    assert_eq!(reason(d.set_owner(a, second)), "OwnerAlreadySet()");
    // Two steps by the owner.
    assert_eq!(
        reason(d.send(
            d.registrar,
            "proposeAdapterOwner(uint32,address)",
            &[a_word, abi::word_address(second)]
        )),
        "NotAuthorized()"
    );
    d.send(
        first,
        "proposeAdapterOwner(uint32,address)",
        &[a_word, abi::word_address(second)],
    )
    .unwrap();
    assert_eq!(
        reason(d.send(third, "acceptAdapterOwner(uint32)", &[a_word])),
        "NotAuthorized()"
    );
    d.send(second, "acceptAdapterOwner(uint32)", &[a_word])
        .unwrap();
    // The registrar's override waits out the delay.
    d.chain.set_timestamp(1_000_000);
    d.send(
        d.registrar,
        "scheduleOwnerOverride(uint32,address)",
        &[a_word, abi::word_address(third)],
    )
    .unwrap();
    let eta = 1_000_000 + 2 * 86_400;
    assert_eq!(
        reason(d.send(d.registrar, "executeOwnerOverride(uint32)", &[a_word])),
        format!("OverrideNotDue({eta})")
    );
    d.chain.set_timestamp(eta);
    assert_eq!(
        reason(d.send(third, "executeOwnerOverride(uint32)", &[a_word])),
        "NotAuthorized()"
    );
    d.send(d.registrar, "executeOwnerOverride(uint32)", &[a_word])
        .unwrap();
    assert_eq!(
        reason(d.send(d.registrar, "executeOwnerOverride(uint32)", &[a_word])),
        "NoPendingChange()"
    );
    // The new owner claims; the previous one no longer can.
    let e = epoch(1, 1, &[(a, 10)], 10, 0);
    register(&mut d, &e);
    settle(&mut d, &e).unwrap();
    assert_eq!(
        reason(d.claim(second, e.id, &e.claims[0])),
        "NotAuthorized()"
    );
    d.claim(third, e.id, &e.claims[0]).unwrap();
}

#[test]
fn claims_check_owner_amount_index_path_and_each_epochs_funds() {
    let mut d = deploy(config());
    // A settlement whose total_paid (25) is below its tree's sum (40): the epoch's balance
    // stops the second claim (a forged or buggy settlement cannot drain other epochs).
    let short = epoch(1, 1, &[(1, 15), (2, 25), (3, 0)], 25, 5);
    registered_and_settled(&mut d, &short);
    let funded = epoch(2, 2, &[(1, 30), (4, 12)], 42, 0);
    registered_and_settled(&mut d, &funded);
    d.set_owner(1, owner(1)).unwrap();
    d.set_owner(2, owner(2)).unwrap();
    d.set_owner(3, owner(3)).unwrap();
    let c = &short.claims;
    assert_eq!(reason(d.claim(owner(2), 1, &c[0])), "NotAuthorized()");
    assert_eq!(reason(d.claim(owner(3), 1, &c[2])), "ZeroAmount()");
    let beyond = Claim {
        index: 3,
        ..c[0].clone()
    };
    assert_eq!(
        reason(d.claim(owner(1), 1, &beyond)),
        "IndexBeyondPayees(3, 3)"
    );
    let off = Claim {
        amount: 16,
        ..c[0].clone()
    };
    assert_eq!(reason(d.claim(owner(1), 1, &off)), "BadPath()");
    let mut bent = c[0].clone();
    bent.siblings[4] += Fr::from(1);
    assert_eq!(reason(d.claim(owner(1), 1, &bent)), "BadPath()");
    let mut big = c[0].clone();
    big.siblings[0] = -Fr::from(1);
    let mut data = zkattr_evm::claim_calldata(&[(1, big)], owner(1)).unwrap();
    // siblings[0] of the first claim: selector, 2 head words, length, 4 fields, as 2^256 - 1.
    let at = 4 + 32 * 7;
    data[at..at + 32].fill(0xff);
    assert_eq!(
        reason(d.chain.call(owner(1), d.settlement, data)),
        "NotAFieldElement()"
    );
    assert_eq!(reason(d.claim(owner(1), 3, &c[0])), "NotSettled()");
    d.claim(owner(1), 1, &c[0]).unwrap();
    assert_eq!(reason(d.claim(owner(1), 1, &c[0])), "AlreadyClaimed()");
    assert_eq!(
        reason(d.claim(owner(2), 1, &c[1])),
        "ExceedsRemaining(25, 10)"
    );
    // Epoch 2's funds were untouched; the treasury got epoch 1's residual.
    assert_eq!(d.balance(d.settlement).unwrap(), U256::from(10 + 42));
    assert_eq!(d.balance(d.treasury).unwrap(), U256::from(5));
    assert_eq!(reason(d.claim_many(owner(1), &[], owner(1))), "NoClaims()");
    assert_eq!(
        reason(d.claim_many(owner(1), &[(2, funded.claims[0].clone())], Address::ZERO)),
        "ZeroAddress()"
    );
}

#[test]
fn the_same_logs_settle_once_and_a_short_payment_is_refused() {
    let mut d = deploy(config());
    let e = epoch(1, 1, &[(1, 15)], 15, 1);
    registered_and_settled(&mut d, &e);
    assert_eq!(reason(settle(&mut d, &e)), "AlreadySettled()");
    // The same logs registered under another epoch id.
    let again = epoch(9, 1, &[(1, 15)], 15, 1);
    register(&mut d, &again);
    assert_eq!(reason(settle(&mut d, &again)), "LogsAlreadySettled()");

    let mut fee = deploy(DeployConfig {
        fee_token: true,
        ..config()
    });
    let e = epoch(1, 1, &[(1, 200)], 200, 100);
    register(&mut fee, &e);
    assert_eq!(reason(settle(&mut fee, &e)), "ReceivedLess(297, 300)");
}

#[test]
fn a_unit_multiplier_pays_18_decimal_tokens() {
    let unit = 1_000_000_000_000_000_000u64;
    let e = epoch(1, 1, &[(1, u64::MAX / 4), (2, 3)], u64::MAX / 4 + 3, 7);
    let mut d = deploy(DeployConfig {
        unit,
        funds: U256::from(u64::MAX) * U256::from(unit),
        ..config()
    });
    registered_and_settled(&mut d, &e);
    d.set_owner(1, owner(1)).unwrap();
    let recipient = address(77);
    d.claim_many(owner(1), &[(1, e.claims[0].clone())], recipient)
        .unwrap();
    assert_eq!(
        d.balance(recipient).unwrap(),
        U256::from(u64::MAX / 4) * U256::from(unit)
    );
    assert_eq!(
        d.balance(d.treasury).unwrap(),
        U256::from(7u64) * U256::from(unit)
    );
}

#[test]
fn after_the_deadline_claims_stop_and_the_owner_sweeps_to_the_treasury() {
    let mut d = deploy(config());
    d.chain.set_timestamp(1_000);
    let e = epoch(1, 1, &[(1, 15), (2, 6)], 21, 0);
    registered_and_settled(&mut d, &e);
    d.set_owner(1, owner(1)).unwrap();
    d.claim(owner(1), 1, &e.claims[0]).unwrap();
    assert_eq!(
        reason(d.send(d.admin, "sweep(uint64)", &[abi::word_u64(1)])),
        "ClaimWindowOpen(1)"
    );
    d.chain.set_timestamp(1_000 + 30 * 86_400 + 1);
    d.set_owner(2, owner(2)).unwrap();
    assert_eq!(
        reason(d.claim(owner(2), 1, &e.claims[1])),
        "ClaimWindowClosed(1)"
    );
    assert_eq!(
        reason(d.send(d.guardian, "sweep(uint64)", &[abi::word_u64(1)])),
        "\"Ownable: caller is not the owner\""
    );
    d.send(d.admin, "sweep(uint64)", &[abi::word_u64(1)])
        .unwrap();
    assert_eq!(d.balance(d.treasury).unwrap(), U256::from(6));
    assert_eq!(d.balance(d.settlement).unwrap(), U256::ZERO);
}

/// One owner claims two epochs in one transaction; the gas of that and of single claims.
#[test]
fn several_epochs_in_one_claim() {
    let mut d = deploy(config());
    let payouts: Vec<(u32, u64)> = (1..=7).map(|a| (a, 100 * u64::from(a))).collect();
    let total: u64 = payouts.iter().map(|p| p.1).sum();
    let e1 = epoch(1, 1, &payouts, total, 0);
    let e2 = epoch(
        2,
        2,
        &payouts[..5],
        payouts[..5].iter().map(|p| p.1).sum(),
        0,
    );
    registered_and_settled(&mut d, &e1);
    registered_and_settled(&mut d, &e2);
    d.set_owner(3, owner(3)).unwrap();
    let recipient = address(88);
    let gas = d
        .claim_many(
            owner(3),
            &[(1, e1.claims[2].clone()), (2, e2.claims[2].clone())],
            recipient,
        )
        .unwrap();
    assert_eq!(d.balance(recipient).unwrap(), U256::from(600));
    assert_eq!(
        reason(d.claim(owner(3), 2, &e2.claims[2])),
        "AlreadyClaimed()"
    );
    eprintln!("claim of two epochs in one transaction: {gas} gas");
}

/// With the real verifier: a proof one byte longer or shorter is refused before the call.
#[test]
fn a_proof_of_the_wrong_length_is_refused() {
    let f = fixture();
    let sol = std::fs::read_to_string(fixtures_dir().join("Halo2Verifier.sol")).unwrap();
    let epoch = u64_of(&f.instances[0]);
    let rate = u64_of(&f.instances[1]) as u16;
    let mut d = Deployment::new(&sol, rate, f.proof.len(), u64_of(&f.instances[5])).unwrap();
    d.register_activation(epoch, &f.instances[2]).unwrap();
    d.register_influence(epoch, &f.instances[3]).unwrap();
    let tree = payout_tree(&Bn254Family, &f.payouts).unwrap();
    let n = f.payouts.len() as u64;
    let len = f.proof.len();
    let mut longer = f.proof.clone();
    longer.push(0);
    assert_eq!(
        reason(d.settle(epoch, &f.instances, &longer, &tree.root(), n)),
        format!("ProofLength({}, {len})", len + 1)
    );
    assert_eq!(
        reason(d.settle(epoch, &f.instances, &f.proof[..len - 1], &tree.root(), n)),
        format!("ProofLength({}, {len})", len - 1)
    );
    let mut bent = f.proof.clone();
    bent[100] ^= 1;
    assert_eq!(
        reason(d.settle(epoch, &f.instances, &bent, &tree.root(), n)),
        "ProofRejected()"
    );
    d.settle(epoch, &f.instances, &f.proof, &tree.root(), n)
        .unwrap();
}
