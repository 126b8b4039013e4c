//! The path file: one Merkle opening, written by `zkattr paths` and checked by
//! `zkattr-verify claim` / `zkattr-verify inclusion`.
//!
//! One JSON object, versioned, naming its hash family and what it opens (a payee's payout
//! against the payout commitment, or one query record against a log commitment). Readers are
//! strict: unknown fields, a wrong depth, an index past the count, a non-canonical digest, or a
//! record that is not in canonical form are typed errors, never a panic. The format is
//! documented in docs/claims.md.

use crate::commit::{log_tree, payout_tree, CommitmentFamily, Log};
use crate::merkle::{MerkleError, MerklePath};
use crate::rule::Payout;
use crate::types::{Query, Slot, LOG_TREE_DEPTH, MAX_PAYEES, MAX_QUERIES, PAYOUT_TREE_DEPTH};
use crate::validate::{canonical_slots, check_query};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The `format` field of every path file.
pub const PATH_FORMAT: &str = "zkattr-path";
/// The current path-file version.
pub const PATH_VERSION: u32 = 1;

/// What a path file opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathKind {
    /// A payee's `H2(adapter_id, amount)` leaf in the depth-20 payout tree.
    Payout,
    /// A query's activation leaf in the depth-32 activation log.
    Activation,
    /// A query's influence leaf in the depth-32 influence log.
    Influence,
}

impl PathKind {
    /// The tree depth this kind of path must have.
    pub fn depth(self) -> usize {
        match self {
            PathKind::Payout => PAYOUT_TREE_DEPTH,
            PathKind::Activation | PathKind::Influence => LOG_TREE_DEPTH,
        }
    }

    fn max_count(self) -> u64 {
        match self {
            PathKind::Payout => MAX_PAYEES as u64,
            PathKind::Activation | PathKind::Influence => MAX_QUERIES,
        }
    }

    /// The log this kind opens, if it is a log path.
    pub fn log(self) -> Option<Log> {
        match self {
            PathKind::Payout => None,
            PathKind::Activation => Some(Log::Activation),
            PathKind::Influence => Some(Log::Influence),
        }
    }
}

impl std::fmt::Display for PathKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathKind::Payout => "payout",
            PathKind::Activation => "activation",
            PathKind::Influence => "influence",
        })
    }
}

/// A payee as a path file carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutRecord {
    pub adapter_id: u32,
    pub amount: u64,
}

/// A query record as a path file carries it: used slots only, as in SPEC's epoch file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRecord {
    pub query_id: u64,
    pub fee: u64,
    pub slots: Vec<SlotRecord>,
}

/// One used slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotRecord {
    pub adapter_id: u32,
    pub gate: u16,
    pub score: i32,
}

impl QueryRecord {
    pub fn of(query: &Query) -> Self {
        QueryRecord {
            query_id: query.query_id,
            fee: query.fee,
            slots: query
                .used_slots()
                .map(|s| SlotRecord {
                    adapter_id: s.adapter_id,
                    gate: s.gate,
                    score: s.score,
                })
                .collect(),
        }
    }

    /// The canonical query, after SPEC's per-query rules.
    pub fn to_query(&self) -> Result<Query, PathFileError> {
        let used: Vec<Slot> = self
            .slots
            .iter()
            .map(|s| Slot {
                adapter_id: s.adapter_id,
                gate: s.gate,
                score: s.score,
            })
            .collect();
        let rule = |rule| PathFileError::Record(format!("query {}: {rule}", self.query_id));
        let slots = canonical_slots(&used).map_err(rule)?;
        let query = Query {
            query_id: self.query_id,
            fee: self.fee,
            slots,
        };
        check_query(&query).map_err(rule)?;
        Ok(query)
    }
}

/// A path file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathFile {
    /// Always [`PATH_FORMAT`].
    pub format: String,
    /// Always [`PATH_VERSION`] for this reader.
    pub version: u32,
    /// `bn254` or `goldilocks`.
    pub family: String,
    pub kind: PathKind,
    /// The commitment the path opens (the family's 0x-hex).
    pub commitment: String,
    /// The count the commitment binds: `n_payees` or `n_queries`.
    pub count: u64,
    /// The leaf's position.
    pub index: u64,
    /// Siblings from the leaf level up, the family's 0x-hex: 20 for payouts, 32 for logs.
    pub siblings: Vec<String>,
    /// Payout paths: the payee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout: Option<PayoutRecord>,
    /// Log paths: the query record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<QueryRecord>,
}

/// Why a path file was not accepted, or a path could not be made.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PathFileError {
    #[error("path file is malformed: {0}")]
    Json(String),
    #[error("path file format is {0:?}, not {PATH_FORMAT:?}")]
    Format(String),
    #[error("path file version {0} is not supported (this reader reads version {PATH_VERSION})")]
    Version(u32),
    #[error("path file is for the {found} family, not {expected}")]
    Family { expected: String, found: String },
    #[error("a {kind} path needs {expected} siblings, the file has {found}")]
    Depth {
        kind: PathKind,
        expected: usize,
        found: usize,
    },
    #[error("count {count} is 0 or above the most a {kind} tree holds ({max})")]
    Count {
        kind: PathKind,
        count: u64,
        max: u64,
    },
    #[error("index {index} is not below the count {count}")]
    Index { index: u64, count: u64 },
    #[error("{field} {text:?} is not a canonical {family} digest")]
    Digest {
        field: String,
        text: String,
        family: &'static str,
    },
    #[error(
        "a {0} path needs exactly its own record (payout for payout paths, query for log paths)"
    )]
    RecordKind(PathKind),
    #[error("record: {0}")]
    Record(String),
    #[error("adapter {0} is not a payee of this epoch")]
    NoSuchAdapter(u32),
    #[error("query {0} is not in this epoch")]
    NoSuchQuery(u64),
    #[error(transparent)]
    Merkle(#[from] MerkleError),
}

/// A path file parsed and checked against a family: digests decoded, record canonical.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedPath<D> {
    pub kind: PathKind,
    pub commitment: D,
    pub count: u64,
    pub path: MerklePath<D>,
    pub payout: Option<Payout>,
    pub query: Option<Query>,
}

impl PathFile {
    /// Parses a path file's bytes (no checks beyond the JSON shape: see [`Self::check`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, PathFileError> {
        serde_json::from_slice(bytes).map_err(|e| PathFileError::Json(e.to_string()))
    }

    /// The path of payee `adapter_id` in an epoch's payout table.
    pub fn for_payout<F: CommitmentFamily>(
        family: &F,
        payouts: &[Payout],
        adapter_id: u32,
    ) -> Result<Self, PathFileError> {
        let index = payouts
            .binary_search_by_key(&adapter_id, |p| p.adapter_id)
            .map_err(|_| PathFileError::NoSuchAdapter(adapter_id))?;
        let tree = payout_tree(family, payouts)?;
        let root = tree.root();
        let commitment = family.commitment(
            crate::commit::tag::PAYOUT_COMMITMENT,
            &root,
            payouts.len() as u64,
        );
        let path = tree.path(index as u64)?;
        let payee = payouts[index];
        Ok(Self::assemble::<F>(
            PathKind::Payout,
            &commitment,
            payouts.len() as u64,
            &path,
            Some(PayoutRecord {
                adapter_id: payee.adapter_id,
                amount: payee.amount,
            }),
            None,
        ))
    }

    /// The path of query `query_id` in one of an epoch's logs.
    pub fn for_query<F: CommitmentFamily>(
        family: &F,
        queries: &[Query],
        log: Log,
        query_id: u64,
    ) -> Result<Self, PathFileError> {
        let index = queries
            .binary_search_by_key(&query_id, |q| q.query_id)
            .map_err(|_| PathFileError::NoSuchQuery(query_id))?;
        let tree = log_tree(family, queries, log)?;
        let count = queries.len() as u64;
        let commitment = family.commitment(crate::commit::tag::LOG_COMMITMENT, &tree.root(), count);
        let path = tree.path(index as u64)?;
        let kind = match log {
            Log::Activation => PathKind::Activation,
            Log::Influence => PathKind::Influence,
        };
        Ok(Self::assemble::<F>(
            kind,
            &commitment,
            count,
            &path,
            None,
            Some(QueryRecord::of(&queries[index])),
        ))
    }

    fn assemble<F: CommitmentFamily>(
        kind: PathKind,
        commitment: &F::Digest,
        count: u64,
        path: &MerklePath<F::Digest>,
        payout: Option<PayoutRecord>,
        query: Option<QueryRecord>,
    ) -> Self {
        PathFile {
            format: PATH_FORMAT.into(),
            version: PATH_VERSION,
            family: F::NAME.into(),
            kind,
            commitment: F::to_hex(commitment),
            count,
            index: path.index,
            siblings: path.siblings.iter().map(F::to_hex).collect(),
            payout,
            query,
        }
    }

    /// Checks every field for family `F` and decodes the digests. Shape only: whether the
    /// path opens the commitment is the caller's hash check.
    pub fn check<F: CommitmentFamily>(&self) -> Result<CheckedPath<F::Digest>, PathFileError> {
        if self.format != PATH_FORMAT {
            return Err(PathFileError::Format(self.format.clone()));
        }
        if self.version != PATH_VERSION {
            return Err(PathFileError::Version(self.version));
        }
        if self.family != F::NAME {
            return Err(PathFileError::Family {
                expected: F::NAME.into(),
                found: self.family.clone(),
            });
        }
        let kind = self.kind;
        if self.siblings.len() != kind.depth() {
            return Err(PathFileError::Depth {
                kind,
                expected: kind.depth(),
                found: self.siblings.len(),
            });
        }
        if self.count == 0 || self.count > kind.max_count() {
            return Err(PathFileError::Count {
                kind,
                count: self.count,
                max: kind.max_count(),
            });
        }
        if self.index >= self.count {
            return Err(PathFileError::Index {
                index: self.index,
                count: self.count,
            });
        }
        let digest = |field: String, text: &str| {
            F::from_hex(text).ok_or_else(|| PathFileError::Digest {
                field,
                text: text.chars().take(80).collect(),
                family: F::NAME,
            })
        };
        let commitment = digest("commitment".into(), &self.commitment)?;
        let siblings = self
            .siblings
            .iter()
            .enumerate()
            .map(|(i, s)| digest(format!("sibling {i}"), s))
            .collect::<Result<Vec<_>, _>>()?;
        let (payout, query) = match (kind, &self.payout, &self.query) {
            (PathKind::Payout, Some(p), None) => (
                Some(Payout {
                    adapter_id: p.adapter_id,
                    amount: p.amount,
                }),
                None,
            ),
            (PathKind::Activation | PathKind::Influence, None, Some(q)) => {
                (None, Some(q.to_query()?))
            }
            _ => return Err(PathFileError::RecordKind(kind)),
        };
        if let Some(p) = &payout {
            if p.adapter_id == 0 {
                return Err(PathFileError::Record(
                    "adapter id 0 is never a payee".into(),
                ));
            }
        }
        Ok(CheckedPath {
            kind,
            commitment,
            count: self.count,
            path: MerklePath {
                index: self.index,
                siblings,
            },
            payout,
            query,
        })
    }
}
