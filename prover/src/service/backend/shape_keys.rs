//! Shape keys of the single-proof circuit ladders (`16x16`); aggregation layout keys
//! (`agg-b2048-t6-p4096`) are read by [`zkattr_plonky2::aggregation::AggregationShape`]'s
//! `FromStr`.

use super::BackendError;
use zkattr_plonky2::statement::StatementShape;

/// The capacity of a shape key `CxC` naming one of `ladder`'s circuits.
pub(super) fn parse_ladder_shape(
    backend: &str,
    key: &str,
    ladder: &[usize],
) -> Result<usize, BackendError> {
    let unknown = || {
        let shapes: Vec<String> = ladder.iter().map(|c| format!("{c}x{c}")).collect();
        BackendError::UnknownShape(format!(
            "no {backend} circuit of shape {key:?}; the shapes are {}",
            shapes.join(", ")
        ))
    };
    let (q, p) = key.split_once('x').ok_or_else(unknown)?;
    match (q.parse::<usize>(), p.parse::<usize>()) {
        (Ok(q), Ok(p)) if q == p && ladder.contains(&q) => Ok(q),
        _ => Err(unknown()),
    }
}

/// The key of a single-proof circuit's shape: `{queries}x{payees}`.
pub(super) fn shape_key(shape: StatementShape) -> String {
    format!("{}x{}", shape.queries, shape.payees)
}
