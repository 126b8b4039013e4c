//! The decoders a contributor or payer feeds untrusted files to: path files and bundle
//! manifests. Arbitrary bytes and single-byte mutations of valid files give an error or (for a
//! mutation no check can see) a clean verdict, never a panic; a mutated path file never opens
//! a different claim than the one it was made for.

use proptest::prelude::*;
use std::sync::OnceLock;
use zkattr_model::paths::PathFile;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::{payout_report, Log, Settlement};
use zkattr_verifier::audit::audit_bundle;
use zkattr_verifier::claims::{check_claim, check_inclusion, FamilyName};
use zkattr_verifier::{ArkBn254Family, VerifyOptions};

struct Fixture {
    payout_commitment: String,
    activation_commitment: String,
    adapter: u32,
    amount: u64,
    claim_file: Vec<u8>,
    inclusion_file: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let epoch = generate(&SynthConfig::new(20, 6, 9));
        let settlement = Settlement::compute(&epoch).unwrap();
        let report = payout_report(&ArkBn254Family, &epoch).unwrap().2;
        let payee = settlement.payouts[1];
        let claim =
            PathFile::for_payout(&ArkBn254Family, &settlement.payouts, payee.adapter_id).unwrap();
        let inclusion = PathFile::for_query(
            &ArkBn254Family,
            &epoch.queries,
            Log::Activation,
            epoch.queries[3].query_id,
        )
        .unwrap();
        Fixture {
            payout_commitment: report.payout_commitment,
            activation_commitment: report.activation_commitment,
            adapter: payee.adapter_id,
            amount: payee.amount,
            claim_file: serde_json::to_vec(&claim).unwrap(),
            inclusion_file: serde_json::to_vec(&inclusion).unwrap(),
        }
    })
}

#[test]
fn the_unmutated_fixtures_open() {
    let f = fixture();
    check_claim(
        FamilyName::Bn254,
        &f.payout_commitment,
        f.adapter,
        f.amount,
        &f.claim_file,
    )
    .unwrap();
    check_inclusion(
        FamilyName::Bn254,
        &f.activation_commitment,
        &f.inclusion_file,
    )
    .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_not_a_path_file(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let f = fixture();
        prop_assert!(check_claim(FamilyName::Bn254, &f.payout_commitment, f.adapter, f.amount, &bytes).is_err());
        prop_assert!(check_inclusion(FamilyName::Goldilocks, &f.activation_commitment, &bytes).is_err());
    }

    /// A claim path with one byte changed either fails or still proves exactly the same claim
    /// (e.g. a changed space or an equivalent JSON spelling): it never opens a claim for a
    /// different amount.
    #[test]
    fn mutated_claim_files_never_open_another_amount(
        position in any::<prop::sample::Index>(),
        mask in 1u8..=255,
        delta in 1u64..1000,
    ) {
        let f = fixture();
        let mut bytes = f.claim_file.clone();
        let i = position.index(bytes.len());
        bytes[i] ^= mask;
        let _ = check_claim(FamilyName::Bn254, &f.payout_commitment, f.adapter, f.amount, &bytes);
        prop_assert!(check_claim(FamilyName::Bn254, &f.payout_commitment, f.adapter, f.amount + delta, &bytes).is_err());
    }

    #[test]
    fn mutated_inclusion_files_do_not_panic(
        position in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let f = fixture();
        let mut bytes = f.inclusion_file.clone();
        let i = position.index(bytes.len());
        bytes[i] ^= mask;
        let _ = check_inclusion(FamilyName::Bn254, &f.activation_commitment, &bytes);
    }

    /// Arbitrary bytes as a bundle manifest: a typed error, never a panic.
    #[test]
    fn arbitrary_manifests_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let dir = std::env::temp_dir().join(format!("zkattr-decoders-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bundle.json"), &bytes).unwrap();
        // Unsafe setups allowed, so that a refusal comes from the decoders, not the policy.
        let options = VerifyOptions::strict().allow_unsafe_setup(true);
        prop_assert!(audit_bundle(&dir, None, &options).is_err());
        prop_assert!(zkattr_verifier::bundle::verify_bundle(&dir, &options).is_err());
    }
}
