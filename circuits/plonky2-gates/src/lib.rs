//! Custom plonky2 gates of the attribution circuits.
//!
//! This crate is circuit configuration: the prover builds circuits with it and the verifier reads
//! verifying keys with [`AttributionGateSerializer`], without the prover's code.

pub mod cases;
mod digest;
pub mod division;
pub mod payout;
pub mod range;
#[cfg(test)]
mod testing;

pub use digest::verifying_key_digest;
pub use division::{ShareDivisionGate, ShareDivisionInputs, ShareDivisionInstructions};
pub use payout::{PayoutTermsGate, PayoutTermsInstructions};
pub use range::{RangeCheckGate, RangeCheckInstructions, NATIVE_WIDTHS};

use plonky2::field::extension::Extendable;
use plonky2::gates::arithmetic_base::ArithmeticGate;
use plonky2::gates::arithmetic_extension::ArithmeticExtensionGate;
use plonky2::gates::base_sum::BaseSumGate;
use plonky2::gates::constant::ConstantGate;
use plonky2::gates::coset_interpolation::CosetInterpolationGate;
use plonky2::gates::exponentiation::ExponentiationGate;
use plonky2::gates::lookup::LookupGate;
use plonky2::gates::lookup_table::LookupTableGate;
use plonky2::gates::multiplication_extension::MulExtensionGate;
use plonky2::gates::noop::NoopGate;
use plonky2::gates::poseidon::PoseidonGate;
use plonky2::gates::poseidon_mds::PoseidonMdsGate;
use plonky2::gates::public_input::PublicInputGate;
use plonky2::gates::random_access::RandomAccessGate;
use plonky2::gates::reducing::ReducingGate;
use plonky2::gates::reducing_extension::ReducingExtensionGate;
use plonky2::hash::hash_types::RichField;
use plonky2::util::serialization::GateSerializer;
use plonky2::{get_gate_tag_impl, impl_gate_serializer, read_gate_impl};

/// Reads and writes verifier data of circuits that use plonky2's default gates,
/// [`RangeCheckGate`], [`ShareDivisionGate`] and [`PayoutTermsGate`]. The default gates keep plonky2's own tags (0..16), so verifier data
/// without a custom gate is byte-identical to what `DefaultGateSerializer` writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttributionGateSerializer;

impl<F: RichField + Extendable<D>, const D: usize> GateSerializer<F, D>
    for AttributionGateSerializer
{
    impl_gate_serializer! {
        AttributionGateSerializer,
        ArithmeticGate,
        ArithmeticExtensionGate<D>,
        BaseSumGate<2>,
        ConstantGate,
        CosetInterpolationGate<F, D>,
        ExponentiationGate<F, D>,
        LookupGate,
        LookupTableGate,
        MulExtensionGate<D>,
        NoopGate,
        PoseidonMdsGate<F, D>,
        PoseidonGate<F, D>,
        PublicInputGate,
        RandomAccessGate<F, D>,
        ReducingExtensionGate<D>,
        ReducingGate<D>,
        RangeCheckGate,
        ShareDivisionGate,
        PayoutTermsGate<D>
    }
}
