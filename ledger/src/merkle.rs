//! The merkle tree committing a block header to its payouts and
//! transactions (RFC 6962 shape, our own domain tags).
//!
//! Leaves are `H("blockstake/merkle-leaf/v1" ‖ bytes)`, inner nodes
//! `H("blockstake/merkle-node/v1" ‖ left ‖ right)`. For n > 1 leaves the
//! tree splits at k, the largest power of two strictly below n: root =
//! node(root(leaves[..k]), root(leaves[k..])). So the left subtree is
//! always full and an odd leaf is never duplicated (which would allow
//! two different leaf lists with the same root). One leaf is its own root;
//! zero leaves give the all-zero hash.

use crate::crypto::hash::{HashTag, tagged_hash, tagged_hash_parts};
use crate::types::Hash32;

pub fn leaf_hash(bytes: &[u8]) -> Hash32 {
    tagged_hash(HashTag::MerkleLeaf, bytes)
}

pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    tagged_hash_parts(HashTag::MerkleNode, &[left.as_bytes(), right.as_bytes()])
}

/// The root over already-hashed leaves.
pub fn merkle_root(leaves: &[Hash32]) -> Hash32 {
    match leaves.len() {
        0 => Hash32::ZERO,
        1 => leaves[0],
        count => {
            let split = split_point(count);
            node_hash(
                &merkle_root(&leaves[..split]),
                &merkle_root(&leaves[split..]),
            )
        }
    }
}

/// The largest power of two strictly below `count` (count ≥ 2).
fn split_point(count: usize) -> usize {
    let mut split = 1;
    while split * 2 < count {
        split *= 2;
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(count: u8) -> Vec<Hash32> {
        (0..count).map(|i| leaf_hash(&[i])).collect()
    }

    #[test]
    fn shape_is_left_full() {
        let l = leaves(5);
        assert_eq!(merkle_root(&[]), Hash32::ZERO);
        assert_eq!(merkle_root(&l[..1]), l[0]);
        assert_eq!(merkle_root(&l[..2]), node_hash(&l[0], &l[1]));
        let left4 = node_hash(&node_hash(&l[0], &l[1]), &node_hash(&l[2], &l[3]));
        assert_eq!(
            merkle_root(&l[..3]),
            node_hash(&node_hash(&l[0], &l[1]), &l[2])
        );
        assert_eq!(merkle_root(&l), node_hash(&left4, &l[4]));
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
    }

    #[test]
    fn odd_leaf_is_not_duplicated() {
        let l = leaves(3);
        let mut padded = l.clone();
        padded.push(l[2]);
        assert_ne!(merkle_root(&l), merkle_root(&padded));
    }

    #[test]
    fn leaf_and_node_are_domain_separated() {
        let l = leaves(2);
        let mut concatenated = l[0].0.to_vec();
        concatenated.extend_from_slice(&l[1].0);
        assert_ne!(leaf_hash(&concatenated), node_hash(&l[0], &l[1]));
    }
}
