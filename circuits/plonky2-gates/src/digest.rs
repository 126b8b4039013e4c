//! The digest pinned for a plonky2 verifying key, shared by the prover (which writes it) and
//! the verifier (which checks it), so neither depends on the other.

use plonky2::field::goldilocks_field::GoldilocksField as F;
use plonky2::field::types::{Field, PrimeField64};
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::plonk::config::Hasher;

/// Poseidon over the whole serialised key (its length, then 7 bytes per element), printed as
/// `0x` and the four digest elements in 16 hex digits each. The gates and FRI configuration are
/// pinned with it, not only the constants that plonky2's own `circuit_digest` covers; the
/// length makes a key with bytes appended a different key.
pub fn verifying_key_digest(bytes: &[u8]) -> String {
    let mut message = vec![F::from_canonical_usize(bytes.len())];
    message.extend(bytes.chunks(7).map(|chunk| {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        F::from_canonical_u64(u64::from_le_bytes(word))
    }));
    PoseidonHash::hash_no_pad(&message)
        .elements
        .iter()
        .fold(String::from("0x"), |text, e| {
            text + &format!("{:016x}", e.to_canonical_u64())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_zero_bytes_change_the_digest() {
        // The 7-byte words of b"key" and b"key\0" are equal: only the length tells them apart.
        let digest = verifying_key_digest(b"key");
        assert_eq!(digest.len(), 2 + 64);
        assert_ne!(digest, verifying_key_digest(b"key\0"));
        assert_eq!(digest, verifying_key_digest(b"key"));
    }
}
