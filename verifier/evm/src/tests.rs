use super::*;

fn error_string(text: &str) -> Vec<u8> {
    let mut out = abi::selector("Error(string)").to_vec();
    out.extend(abi::word_u64(32));
    out.extend(abi::bytes_tail(text.as_bytes()));
    out
}

#[test]
fn reverts_are_named() {
    assert!(revert_reason(&[]).starts_with("no data"));
    assert_eq!(
        revert_reason(&abi::selector("ProofRejected()")),
        "ProofRejected()"
    );
    let mut mismatch = abi::selector("InstanceMismatch(uint256)").to_vec();
    mismatch.extend(abi::word_u64(3));
    assert_eq!(revert_reason(&mismatch), "InstanceMismatch(3)");
    let mut length = abi::selector("ProofLength(uint256,uint256)").to_vec();
    length.extend(abi::word_u64(2529));
    length.extend(abi::word_u64(2528));
    assert_eq!(revert_reason(&length), "ProofLength(2529, 2528)");
    // An argument missing: shown as hex, not decoded from the wrong bytes.
    assert!(revert_reason(&length[..36]).starts_with("0x"));
    let mut no_code = abi::selector("NoCode(address)").to_vec();
    no_code.extend(abi::word_address(address(0xabc)));
    assert_eq!(
        revert_reason(&no_code),
        "NoCode(0x0000000000000000000000000000000000000abc)"
    );
    assert_eq!(
        revert_reason(&error_string("rate_bps > 10000")),
        "\"rate_bps > 10000\""
    );
    assert_eq!(revert_reason(&[1, 2, 3]), "0x010203");
    let e = EvmError::Revert {
        gas_used: 21_500,
        output: abi::selector("AlreadyClaimed()").to_vec(),
    };
    assert_eq!(
        e.to_string(),
        "reverted with AlreadyClaimed() (gas used 21500)"
    );
}

/// Truncated or lying revert data (a length past the end, a huge length) is shown as hex,
/// never a panic.
#[test]
fn malformed_revert_data_does_not_panic() {
    let mut lying = error_string("abc");
    lying[4 + 32 + 31] = 200;
    assert!(revert_reason(&lying).starts_with("0x08c379a0"));
    let mut huge = error_string("abc");
    huge[4 + 32..4 + 64].fill(0xff);
    assert!(revert_reason(&huge).starts_with("0x"));
    // A length that fits usize but overflows when the offset is added.
    let mut edge = error_string("abc");
    edge[4 + 32..4 + 56].fill(0);
    edge[4 + 56..4 + 64].fill(0xff);
    assert!(revert_reason(&edge).starts_with("0x"));
    let short = &error_string("abc")[..40];
    assert!(revert_reason(short).starts_with("0x"));
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for len in 0..200 {
        let data: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let _ = revert_reason(&data);
    }
}

#[test]
fn calldata_gas_counts_zero_and_other_bytes() {
    assert_eq!(calldata_gas(&[0, 0, 1, 255]), 4 + 4 + 16 + 16);
    assert_eq!(calldata_gas(&[]), 0);
}
