//! Inclusion paths in both families: every query record opens against both log commitments,
//! every payout against the payout commitment, and any change to leaf, path, index or count
//! is rejected.

use zkattr_halo2::Bn254Family;
use zkattr_model::commit::{
    commit_epoch, log_tree, payout_tree, verify_payout_claim, verify_query_inclusion,
};
use zkattr_model::merkle::MerkleError;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::{CommitmentFamily, Log, Payout, Settlement};
use zkattr_plonky2::GoldilocksFamily;

fn check_family<F: CommitmentFamily>(family: &F) {
    let epoch = generate(&SynthConfig::new(37, 9, 5));
    let settlement = Settlement::compute(&epoch).unwrap();
    let commitments = commit_epoch(family, &epoch, &settlement).unwrap();
    let n = epoch.queries.len() as u64;

    for (log, commitment) in [
        (Log::Activation, commitments.activation),
        (Log::Influence, commitments.influence),
    ] {
        let tree = log_tree(family, &epoch.queries, log).unwrap();
        for (i, query) in epoch.queries.iter().enumerate() {
            let path = tree.path(i as u64).unwrap();
            assert!(verify_query_inclusion(family, &commitment, n, log, query, &path).unwrap());

            // A changed record, a changed position, a changed count: all rejected.
            let mut changed = *query;
            changed.query_id += 1;
            assert!(!verify_query_inclusion(family, &commitment, n, log, &changed, &path).unwrap());
            // The fee is in the activation log only (SPEC's influence leaf omits it).
            let mut refee = *query;
            refee.fee += 1;
            assert_eq!(
                verify_query_inclusion(family, &commitment, n, log, &refee, &path).unwrap(),
                log == Log::Influence
            );
            let mut moved = path.clone();
            moved.index ^= 1;
            assert!(!verify_query_inclusion(family, &commitment, n, log, query, &moved).unwrap());
            assert!(
                !verify_query_inclusion(family, &commitment, n + 1, log, query, &path).unwrap()
            );
        }
        // The activation path does not open the record in the other log.
        let path = tree.path(0).unwrap();
        let other = match log {
            Log::Activation => Log::Influence,
            Log::Influence => Log::Activation,
        };
        assert!(
            !verify_query_inclusion(family, &commitment, n, other, &epoch.queries[0], &path)
                .unwrap()
        );
        // A score change shows in the influence log only.
        let mut rescored = epoch.queries[0];
        rescored.slots[0].score ^= 1;
        assert_eq!(
            verify_query_inclusion(family, &commitment, n, log, &rescored, &path).unwrap(),
            log == Log::Activation
        );
    }

    let tree = payout_tree(family, &settlement.payouts).unwrap();
    let payees = settlement.payouts.len() as u64;
    for (i, payout) in settlement.payouts.iter().enumerate() {
        let path = tree.path(i as u64).unwrap();
        assert!(verify_payout_claim(family, &commitments.payout, payees, payout, &path).unwrap());
        let more = Payout {
            amount: payout.amount + 1,
            ..*payout
        };
        assert!(!verify_payout_claim(family, &commitments.payout, payees, &more, &path).unwrap());
        let other = Payout {
            adapter_id: payout.adapter_id + 1000,
            ..*payout
        };
        assert!(!verify_payout_claim(family, &commitments.payout, payees, &other, &path).unwrap());
    }
    let mut short = tree.path(0).unwrap();
    short.siblings.pop();
    assert!(matches!(
        verify_payout_claim(
            family,
            &commitments.payout,
            payees,
            &settlement.payouts[0],
            &short
        ),
        Err(MerkleError::WrongPathLength { .. })
    ));
    // A path past the published count is refused even if the tree had such a leaf.
    let beyond = tree.path(payees - 1).map(|mut p| {
        p.index = payees;
        p
    });
    assert!(!verify_payout_claim(
        family,
        &commitments.payout,
        payees,
        &settlement.payouts[0],
        &beyond.unwrap()
    )
    .unwrap());
}

#[test]
fn bn254_paths_open_and_reject_tampering() {
    check_family(&Bn254Family);
}

#[test]
fn goldilocks_paths_open_and_reject_tampering() {
    check_family(&GoldilocksFamily);
}

#[test]
fn hex_round_trips_and_rejects_malformed() {
    let epoch = generate(&SynthConfig::new(3, 3, 1));
    let s = Settlement::compute(&epoch).unwrap();
    let c = commit_epoch(&Bn254Family, &epoch, &s).unwrap();
    let text = Bn254Family::to_hex(&c.payout);
    assert_eq!(Bn254Family::from_hex(&text), Some(c.payout));
    let g = commit_epoch(&GoldilocksFamily, &epoch, &s).unwrap();
    let text = GoldilocksFamily::to_hex(&g.payout);
    assert_eq!(GoldilocksFamily::from_hex(&text), Some(g.payout));
    for bad in [
        "",
        "0x",
        "12",
        "0xzz",
        // The BN254 modulus itself is not a canonical element.
        "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001",
    ] {
        assert_eq!(Bn254Family::from_hex(bad), None, "{bad}");
    }
    // A Goldilocks element at the field order is not canonical.
    let bad = format!("0x{:016x}{}", 0xffff_ffff_0000_0001u64, "0".repeat(48));
    assert_eq!(GoldilocksFamily::from_hex(&bad), None);
}
