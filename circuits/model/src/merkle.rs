//! Fixed-depth binary Merkle trees over any two-to-one hash, computed in O(n) for n leaves.
//!
//! Positions past the last leaf hold the empty leaf; the hash of an empty subtree of each
//! height is computed once, so a depth-32 tree over n leaves costs about n hashes, not 2^32.

use rayon::prelude::*;
use std::fmt::Debug;
use thiserror::Error;

/// Below this many nodes a level is hashed on one thread: rayon's overhead outweighs the work.
const PARALLEL_THRESHOLD: usize = 1 << 10;

/// A two-to-one hash with a distinguished empty leaf.
pub trait TreeHasher: Sync {
    type Digest: Copy + Eq + Debug + Send + Sync;
    /// The value of a position past the last leaf.
    fn empty_leaf(&self) -> Self::Digest;
    /// An inner node from its children.
    fn hash_children(&self, left: &Self::Digest, right: &Self::Digest) -> Self::Digest;
}

/// The hashes of empty subtrees: `empty[h]` is the root of an all-empty subtree of height `h`.
pub fn empty_subtrees<H: TreeHasher>(hasher: &H, depth: usize) -> Vec<H::Digest> {
    let mut empty = Vec::with_capacity(depth + 1);
    empty.push(hasher.empty_leaf());
    for h in 0..depth {
        let below = empty[h];
        empty.push(hasher.hash_children(&below, &below));
    }
    empty
}

/// Hashes one level into the next; a missing right sibling is the empty subtree of that height.
fn next_level<H: TreeHasher>(hasher: &H, level: &[H::Digest], empty: H::Digest) -> Vec<H::Digest> {
    let pair = |chunk: &[H::Digest]| {
        let right = chunk.get(1).copied().unwrap_or(empty);
        hasher.hash_children(&chunk[0], &right)
    };
    if level.len() >= PARALLEL_THRESHOLD {
        level.par_chunks(2).map(pair).collect()
    } else {
        level.chunks(2).map(pair).collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum MerkleError {
    #[error("{leaves} leaves do not fit in a tree of depth {depth}")]
    TooManyLeaves { leaves: usize, depth: usize },
    #[error("leaf index {index} is not below the {leaves} leaves of the tree")]
    IndexOutOfRange { index: u64, leaves: usize },
    #[error("a path for a tree of depth {expected} needs {expected} siblings, got {got}")]
    WrongPathLength { expected: usize, got: usize },
    #[error("leaf index {index} does not fit in a tree of depth {depth}")]
    IndexTooLarge { index: u64, depth: usize },
}

fn check_fits(leaves: usize, depth: usize) -> Result<(), MerkleError> {
    if depth < usize::BITS as usize && leaves > 1usize << depth {
        return Err(MerkleError::TooManyLeaves { leaves, depth });
    }
    Ok(())
}

/// The root of a fixed-depth tree whose first leaves are `leaves` and the rest empty.
/// Keeps one level in memory at a time.
pub fn root<H: TreeHasher>(
    hasher: &H,
    depth: usize,
    leaves: Vec<H::Digest>,
) -> Result<H::Digest, MerkleError> {
    check_fits(leaves.len(), depth)?;
    let empty = empty_subtrees(hasher, depth);
    let mut level = leaves;
    for &empty_here in empty.iter().take(depth) {
        if level.is_empty() {
            return Ok(empty[depth]);
        }
        level = next_level(hasher, &level, empty_here);
    }
    Ok(level.first().copied().unwrap_or(empty[depth]))
}

/// A fixed-depth tree with every populated level kept, for producing inclusion paths.
#[derive(Clone, Debug)]
pub struct MerkleTree<D> {
    /// `levels[0]` are the leaves; `levels[h]` the populated nodes at height `h`.
    levels: Vec<Vec<D>>,
    empty: Vec<D>,
}

impl<D: Copy + Eq + Debug + Send + Sync> MerkleTree<D> {
    /// Builds the tree; about twice the leaves' memory.
    pub fn build<H: TreeHasher<Digest = D>>(
        hasher: &H,
        depth: usize,
        leaves: Vec<D>,
    ) -> Result<Self, MerkleError> {
        check_fits(leaves.len(), depth)?;
        let empty = empty_subtrees(hasher, depth);
        let mut levels = Vec::with_capacity(depth + 1);
        levels.push(leaves);
        for height in 0..depth {
            let next = next_level(hasher, &levels[height], empty[height]);
            levels.push(next);
        }
        Ok(MerkleTree { levels, empty })
    }

    pub fn depth(&self) -> usize {
        self.empty.len() - 1
    }

    pub fn leaf_count(&self) -> usize {
        self.levels[0].len()
    }

    pub fn root(&self) -> D {
        let depth = self.depth();
        self.levels[depth]
            .first()
            .copied()
            .unwrap_or(self.empty[depth])
    }

    /// The inclusion path of leaf `index`.
    pub fn path(&self, index: u64) -> Result<MerklePath<D>, MerkleError> {
        let leaves = self.leaf_count();
        if index >= leaves as u64 {
            return Err(MerkleError::IndexOutOfRange { index, leaves });
        }
        let siblings = (0..self.depth())
            .map(|height| {
                let sibling = ((index >> height) ^ 1) as usize;
                self.levels[height]
                    .get(sibling)
                    .copied()
                    .unwrap_or(self.empty[height])
            })
            .collect();
        Ok(MerklePath { index, siblings })
    }
}

/// An inclusion path: the leaf's position and its siblings from the leaf level up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerklePath<D> {
    pub index: u64,
    pub siblings: Vec<D>,
}

impl<D: Copy + Eq + Debug> MerklePath<D> {
    /// The root this path leads to from `leaf`.
    pub fn root_from<H: TreeHasher<Digest = D>>(
        &self,
        hasher: &H,
        leaf: D,
        depth: usize,
    ) -> Result<D, MerkleError> {
        if self.siblings.len() != depth {
            return Err(MerkleError::WrongPathLength {
                expected: depth,
                got: self.siblings.len(),
            });
        }
        if depth < 64 && self.index >> depth != 0 {
            return Err(MerkleError::IndexTooLarge {
                index: self.index,
                depth,
            });
        }
        let mut node = leaf;
        for (height, sibling) in self.siblings.iter().enumerate() {
            node = if (self.index >> height) & 1 == 0 {
                hasher.hash_children(&node, sibling)
            } else {
                hasher.hash_children(sibling, &node)
            };
        }
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy hash that keeps structure visible: distinct trees give distinct roots.
    struct Toy;
    impl TreeHasher for Toy {
        type Digest = u64;
        fn empty_leaf(&self) -> u64 {
            0
        }
        fn hash_children(&self, l: &u64, r: &u64) -> u64 {
            l.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(17)
                .wrapping_add(r.wrapping_mul(0xc2b2_ae3d_27d4_eb4f))
                ^ 0x1234_5678
        }
    }

    /// The naive root over all 2^depth positions.
    fn naive_root(depth: usize, leaves: &[u64]) -> u64 {
        let mut level: Vec<u64> = (0..1usize << depth)
            .map(|i| leaves.get(i).copied().unwrap_or(0))
            .collect();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|c| Toy.hash_children(&c[0], &c[1]))
                .collect();
        }
        level[0]
    }

    #[test]
    fn sparse_root_equals_naive_root() {
        for n in [0usize, 1, 2, 3, 5, 8, 13, 16] {
            let leaves: Vec<u64> = (1..=n as u64).collect();
            let expected = naive_root(4, &leaves);
            assert_eq!(root(&Toy, 4, leaves.clone()).unwrap(), expected, "n={n}");
            assert_eq!(MerkleTree::build(&Toy, 4, leaves).unwrap().root(), expected);
        }
    }

    #[test]
    fn parallel_levels_equal_sequential() {
        let leaves: Vec<u64> = (1..=5000).collect();
        let tree = MerkleTree::build(&Toy, 13, leaves.clone()).unwrap();
        assert_eq!(tree.root(), naive_root(13, &leaves));
    }

    #[test]
    fn paths_open_every_leaf_and_reject_tampering() {
        let leaves: Vec<u64> = (10..17).collect();
        let tree = MerkleTree::build(&Toy, 5, leaves.clone()).unwrap();
        for (i, leaf) in leaves.iter().enumerate() {
            let path = tree.path(i as u64).unwrap();
            assert_eq!(path.root_from(&Toy, *leaf, 5).unwrap(), tree.root());
            assert_ne!(path.root_from(&Toy, leaf + 1, 5).unwrap(), tree.root());
            let mut moved = path.clone();
            moved.index ^= 1;
            assert_ne!(moved.root_from(&Toy, *leaf, 5).unwrap(), tree.root());
        }
        assert_eq!(
            tree.path(7),
            Err(MerkleError::IndexOutOfRange {
                index: 7,
                leaves: 7
            })
        );
        let mut short = tree.path(0).unwrap();
        short.siblings.pop();
        assert!(matches!(
            short.root_from(&Toy, 10, 5),
            Err(MerkleError::WrongPathLength { .. })
        ));
    }

    #[test]
    fn too_many_leaves_is_an_error() {
        assert_eq!(
            root(&Toy, 2, vec![1, 2, 3, 4, 5]),
            Err(MerkleError::TooManyLeaves {
                leaves: 5,
                depth: 2
            })
        );
    }
}
