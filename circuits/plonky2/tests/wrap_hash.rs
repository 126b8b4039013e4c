//! The outer layer's BN254 Poseidon hasher against the native permutation
//! (`zkattr_halo2::poseidon::permute`) and against circomlibjs: the sponge permutation, the
//! packing and base-p digits, `hash_no_pad`, `two_to_one`, `hash_or_noop`, the challenger, and
//! the hash out's canonical 32-byte encoding.

use halo2_base::halo2_proofs::halo2curves::ff::{Field as _, PrimeField};
use plonky2::field::types::{Field, Field64, PrimeField64};
use plonky2::hash::hashing::PlonkyPermutation;
use plonky2::iop::challenger::Challenger;
use plonky2::plonk::config::{GenericHashOut, Hasher};
use zkattr_halo2::poseidon::{hash2, permute, to_decimal, Fr};
use zkattr_plonky2::native::F;
use zkattr_plonky2::wrap::hash::{digits, pack, RATE};
use zkattr_plonky2::wrap::{
    read_outer_proof, Bn254HashOut, Bn254PoseidonHash, Bn254PoseidonPermutation, HashOutError,
};

/// A fixed-seed generator (splitmix64), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn goldilocks(&mut self) -> F {
        F::from_noncanonical_u64(self.next())
    }
    fn fr(&mut self) -> Fr {
        Fr::from_raw([self.next(), self.next(), self.next(), self.next()])
    }
}

fn dec(x: &str) -> Fr {
    Fr::from_str_vartime(x).unwrap()
}

fn p() -> F {
    F::NEG_ONE
}

/// `g0 + 2^64 g1 + 2^128 g2` computed in the BN254 field, independently of `pack`.
fn pack_by_hand(g: &[F]) -> Fr {
    let two64 = Fr::from(u64::MAX) + Fr::ONE;
    g.iter().rev().fold(Fr::ZERO, |acc, x| {
        acc * two64 + Fr::from(x.to_canonical_u64())
    })
}

#[test]
fn packing_is_little_end_first_and_digits_invert_it() {
    let g = [F::from_canonical_u64(1), F::from_canonical_u64(2), p()];
    assert_eq!(pack(&g), pack_by_hand(&g));
    assert_eq!(pack(&g[..2]), pack_by_hand(&g[..2]));
    assert_eq!(pack(&[]), Fr::ZERO);

    let modulus = Fr::from(F::ORDER);
    let mut rng = Rng(7);
    let mut values = vec![
        Fr::ZERO,
        Fr::ONE,
        -Fr::ONE,
        modulus,
        modulus * modulus * modulus,
    ];
    values.extend((0..200).map(|_| rng.fr()));
    for x in values {
        let d = digits(&x);
        // Every digit is canonical (plonky2 stores Goldilocks elements canonically once reduced).
        for digit in d {
            assert!(digit.to_canonical_u64() < F::ORDER);
        }
        let back = d.iter().rev().fold(Fr::ZERO, |acc, g| {
            acc * modulus + Fr::from(g.to_canonical_u64())
        });
        assert_eq!(back, x, "digits of {}", to_decimal(&x));
        // The top digit is below 2^62 (r < 2^62 p^3).
        assert!(d[3].to_canonical_u64() < 1 << 62);
    }
    // Packing is base 2^64 and digits base p, so they differ past the first element:
    // digits(pack(1)) = (1, 0, 0, 0), digits(pack(0, 1)) = (2^32 - 1, 1, 0, 0) as 2^64 = p + 2^32 - 1.
    assert_eq!(
        digits(&pack(&[F::ONE])),
        [F::ONE, F::ZERO, F::ZERO, F::ZERO]
    );
    assert_eq!(
        digits(&pack(&[F::ZERO, F::ONE])),
        [
            F::from_canonical_u64((1 << 32) - 1),
            F::ONE,
            F::ZERO,
            F::ZERO
        ]
    );
}

/// The sponge permutation by hand: `[c, pack(rate[..3]), pack(rate[3..])]` through the native
/// permutation, the new rate the low three digits of elements 1 and 2.
fn permute_by_hand(capacity: Fr, rate: [F; RATE]) -> (Fr, [F; RATE]) {
    let mut s = [capacity, pack_by_hand(&rate[..3]), pack_by_hand(&rate[3..])];
    permute(&mut s);
    let a = digits(&s[1]);
    let b = digits(&s[2]);
    (s[0], [a[0], a[1], a[2], b[0], b[1], b[2]])
}

#[test]
fn sponge_permutation_is_the_native_permutation() {
    let mut rng = Rng(11);
    let fixed = [F::ZERO; RATE];
    let mut perm = Bn254PoseidonPermutation::new(fixed);
    let (mut cap, mut rate) = permute_by_hand(Fr::ZERO, fixed);
    perm.permute();
    assert_eq!((perm.capacity(), perm.squeeze()), (cap, &rate[..]));
    for round in 0..50 {
        // Overwrite a prefix, as the challenger does.
        let k = round % (RATE + 1);
        let fresh: Vec<F> = (0..k).map(|_| rng.goldilocks()).collect();
        perm.set_from_slice(&fresh, 0);
        rate[..k].copy_from_slice(&fresh);
        perm.permute();
        (cap, rate) = permute_by_hand(cap, rate);
        assert_eq!(perm.capacity(), cap, "round {round}");
        assert_eq!(perm.squeeze(), &rate[..], "round {round}");
    }
    // From arbitrary states, the canonical-limb extremes included.
    for _ in 0..50 {
        let c = rng.fr();
        let r: [F; RATE] = std::array::from_fn(|i| if i % 2 == 0 { p() } else { rng.goldilocks() });
        let mut perm = Bn254PoseidonPermutation::from_parts(c, r);
        perm.permute();
        let (c2, r2) = permute_by_hand(c, r);
        assert_eq!((perm.capacity(), perm.squeeze()), (c2, &r2[..]));
    }
}

/// circomlibjs 0.1.7 (`buildPoseidon`), run under verifier/evm/node_modules:
/// `poseidon([pack(p-1, p-2, 12345), pack(0, 1, p-1)], 987654321, 3)`.
#[test]
fn sponge_permutation_matches_circomlibjs() {
    let g = |x: u64| F::from_canonical_u64(x);
    let rate = [-F::ONE, -F::TWO, g(12345), g(0), g(1), -F::ONE];
    let mut perm = Bn254PoseidonPermutation::from_parts(Fr::from(987_654_321), rate);
    perm.permute();
    let expected = [
        "18868569959794133951691514291896793540505043483163315395681539510227933360868",
        "2571986378738664296328967016225417987509991991587292239202841983455401662492",
        "3673651912157719941219454390049371302146578747773972116373262621570431223098",
    ]
    .map(dec);
    assert_eq!(perm.capacity(), expected[0]);
    let a = digits(&expected[1]);
    let b = digits(&expected[2]);
    assert_eq!(perm.squeeze(), &[a[0], a[1], a[2], b[0], b[1], b[2]][..]);
}

#[test]
fn hashes_match_circomlibjs() {
    let g: Vec<F> = (1..=8).map(F::from_canonical_u64).collect();
    // poseidon([pack(1,2,3), pack(4,5,6)])
    assert_eq!(
        Bn254PoseidonHash::hash_no_pad(&g[..6]).0,
        dec("15367401866921276367628778332060470705346881592452036185426085395258382949382")
    );
    // s = poseidon([pack(1,2,3), pack(4,5,6)], 0, 3); poseidon([pack(7,8,0), 0], s[0])
    assert_eq!(
        Bn254PoseidonHash::hash_no_pad(&g).0,
        dec("8170441658222235718505550923294737763155774948767372704994502505841002857857")
    );
    // poseidon([1, 2]), the value FIELD-NOTES and SPEC give.
    let two_to_one =
        Bn254PoseidonHash::two_to_one(Bn254HashOut(Fr::from(1)), Bn254HashOut(Fr::from(2)));
    assert_eq!(
        to_decimal(&two_to_one.0),
        "7853200120776062878684798364095072458815029376092732009249414926327459813530"
    );
}

#[test]
fn hash_no_pad_and_two_to_one_by_hand() {
    let mut rng = Rng(3);
    for len in 0..=20 {
        let input: Vec<F> = (0..len).map(|_| rng.goldilocks()).collect();
        let mut s = [Fr::ZERO; 3];
        for chunk in input.chunks(RATE) {
            let mut padded = [F::ZERO; RATE];
            padded[..chunk.len()].copy_from_slice(chunk);
            s[1] = pack_by_hand(&padded[..3]);
            s[2] = pack_by_hand(&padded[3..]);
            permute(&mut s);
        }
        assert_eq!(
            Bn254PoseidonHash::hash_no_pad(&input).0,
            s[0],
            "length {len}"
        );
        let noop = Bn254PoseidonHash::hash_or_noop(&input).0;
        if len <= 3 {
            assert_eq!(noop, pack_by_hand(&input), "length {len}");
        } else {
            assert_eq!(noop, s[0], "length {len}");
        }
    }
    for _ in 0..20 {
        let (l, r) = (rng.fr(), rng.fr());
        let got = Bn254PoseidonHash::two_to_one(Bn254HashOut(l), Bn254HashOut(r));
        assert_eq!(got.0, hash2(l, r));
        let mut s = [Fr::ZERO, l, r];
        permute(&mut s);
        assert_eq!(got.0, s[0]);
    }
}

#[test]
fn challenger_duplexes_six_elements_and_pops_from_the_end() {
    let mut rng = Rng(5);
    let observed: Vec<F> = (0..7).map(|_| rng.goldilocks()).collect();
    let mut challenger = Challenger::<F, Bn254PoseidonHash>::new();
    challenger.observe_elements(&observed);
    let challenges = challenger.get_n_challenges(8);

    // Six observations fill the rate and permute; the seventh overwrites rate element 0 when a
    // challenge is asked for; challenges are taken from rate element 5 downwards, and an empty
    // output buffer permutes again with nothing overwritten.
    let (cap1, mut rate1) = permute_by_hand(Fr::ZERO, observed[..6].try_into().unwrap());
    rate1[0] = observed[6];
    let (cap2, out2) = permute_by_hand(cap1, rate1);
    let (_, out3) = permute_by_hand(cap2, out2);
    let expected: Vec<F> = out2
        .iter()
        .rev()
        .chain(out3.iter().rev())
        .copied()
        .take(8)
        .collect();
    assert_eq!(challenges, expected);
}

#[test]
fn hash_out_bytes_are_canonical() {
    let mut rng = Rng(9);
    for _ in 0..20 {
        let h = Bn254HashOut(rng.fr());
        let bytes = h.to_bytes();
        assert_eq!(bytes.len(), 32);
        assert_eq!(Bn254HashOut::from_bytes(&bytes), h);
        assert_eq!(Bn254HashOut::try_from_bytes(&bytes), Ok(h));
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<Bn254HashOut>(&json).unwrap(), h);
        // to_vec is the 4 base-p digits: injective, canonical.
        assert_eq!(h.to_vec(), digits(&h.0).to_vec());
    }
    // The modulus itself, the modulus plus one, and 2^256 - 1 stand for nothing.
    let modulus = (-Fr::ONE).to_repr();
    let mut r = modulus;
    r[0] += 1;
    let mut r_plus_1 = r;
    r_plus_1[0] += 1;
    for bad in [r, r_plus_1, [0xff; 32]] {
        assert!(matches!(
            Bn254HashOut::try_from_bytes(&bad),
            Err(HashOutError::NonCanonical(_))
        ));
        let json = serde_json::to_string(&bad.to_vec()).unwrap();
        let err = serde_json::from_str::<Bn254HashOut>(&json).unwrap_err();
        assert!(err.to_string().contains("non-canonical"), "{err}");
    }
    assert_eq!(
        Bn254HashOut::try_from_bytes(&modulus),
        Ok(Bn254HashOut(-Fr::ONE))
    );
    assert_eq!(
        Bn254HashOut::try_from_bytes(&[0; 31]),
        Err(HashOutError::Length(31))
    );
}

#[test]
#[should_panic(expected = "non-canonical")]
fn from_bytes_refuses_to_wrap_a_non_canonical_string() {
    Bn254HashOut::from_bytes(&[0xff; 32]);
}

#[test]
fn the_checked_reader_refuses_bytes_that_are_no_proof() {
    // Any common data will do to read against: the reader refuses before it matters.
    let circuit = {
        use plonky2::plonk::circuit_builder::CircuitBuilder;
        use plonky2::plonk::circuit_data::CircuitConfig;
        let mut b = CircuitBuilder::<F, 2>::new(CircuitConfig::standard_recursion_config());
        let x = b.add_virtual_target();
        b.register_public_input(x);
        b.build::<zkattr_plonky2::wrap::Bn254PoseidonGoldilocksConfig>()
    };
    // A first cap hash that is not canonical.
    let err = read_outer_proof(&[0xff; 64], &circuit.common).unwrap_err();
    assert!(err.to_string().contains("non-canonical"), "{err}");
    // Canonical but truncated.
    let err = read_outer_proof(&[0; 40], &circuit.common).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
}
