//! Proof of BlockStake arithmetic: targets and difficulty, the retarget
//! rule, the stake modifier and the lottery.
//!
//! * A [`Target`] is a 256-bit unsigned integer (big-endian bytes). A block
//!   whose parent carries child target `T` is valid only if its stake
//!   output of value `v` wins: `hash < T × v` (the same as Rivine's
//!   `⌊hash / v⌋ < T`), compared in big integers so nothing overflows.
//! * The lottery hash is `H("blockstake/stake-lottery/v1", modifier[32] ‖
//!   encode(position)[24] ‖ u64le(timestamp))`.
//! * The stake modifier of a block at height `h`: bit `i` (0 = least
//!   significant bit of the big-endian 256-bit integer) is bit `i` of the
//!   block ID at height `h − delay − i`, read as a big-endian integer.
//!   Heights below 0 use virtual IDs `H("blockstake/genesis-stake-modifier/v1",
//!   genesis_id ‖ u64le(k))` for height `−k`.
//! * Difficulty of a target = `⌊2^256 / target⌋`; a block's weight is the
//!   difficulty of the target it met; cumulative difficulty sums weights.
//! * Retarget (block heights divisible by `target_window / 2`): the child
//!   target is `2^256 × (ts(h) − ts(h − w)) / (frequency × work)` with
//!   `w = min(window, h)` and `work` the cumulative difficulty gained over
//!   those `w` blocks, clamped to `[parent × down, parent × up]`, in exact
//!   integers, truncated, saturated to `[1, 2^256 − 1]`.

use std::fmt;

use ledger::crypto::hash::{HashTag, tagged_hash_parts};
use ledger::{BlockId, BlockStakePosition, BlockStakes, Hash32, Timestamp, codec};
use num_bigint::BigUint;
use num_traits::{One, Zero};

use crate::config::Ratio;

/// A 256-bit target as big-endian bytes. Larger is easier.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub struct Target(pub [u8; 32]);

/// An amount of work: `⌊2^256 / target⌋`, or a sum of those.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Difficulty(pub BigUint);

impl Target {
    /// `2^256 − 1`: every hash wins with one blockstake.
    pub const MAX: Target = Target([0xff; 32]);

    pub fn to_biguint(&self) -> BigUint {
        BigUint::from_bytes_be(&self.0)
    }

    /// The target for an integer, saturating to `[1, 2^256 − 1]`: a zero
    /// target would stop the chain forever, a larger one does not fit.
    pub fn from_biguint_saturating(value: &BigUint) -> Target {
        if value.is_zero() {
            let mut one = [0u8; 32];
            one[31] = 1;
            return Target(one);
        }
        let bytes = value.to_bytes_be();
        if bytes.len() > 32 {
            return Target::MAX;
        }
        let mut target = [0u8; 32];
        target[32 - bytes.len()..].copy_from_slice(&bytes);
        Target(target)
    }

    /// Rivine's starting target: `(2^256 − 1) / (frequency × total stake)`,
    /// so that the whole stake wins about once per `frequency` seconds.
    pub fn initial(block_frequency: u64, total_stake: BlockStakes) -> Target {
        let divisor = BigUint::from(block_frequency) * BigUint::from(total_stake.0);
        if divisor.is_zero() {
            return Target::MAX;
        }
        Target::from_biguint_saturating(&(Target::MAX.to_biguint() / divisor))
    }

    /// `⌊2^256 / target⌋` (a target of zero counts as one).
    pub fn difficulty(&self) -> Difficulty {
        let target = self.to_biguint().max(BigUint::one());
        Difficulty((BigUint::one() << 256u32) / target)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Option<Target> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Target(bytes))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({self})")
    }
}

impl Difficulty {
    pub fn zero() -> Difficulty {
        Difficulty(BigUint::zero())
    }

    pub fn plus(&self, other: &Difficulty) -> Difficulty {
        Difficulty(&self.0 + &other.0)
    }

    /// Big-endian bytes (for storage).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes_be()
    }

    pub fn from_bytes(bytes: &[u8]) -> Difficulty {
        Difficulty(BigUint::from_bytes_be(bytes))
    }

    /// Whether a branch of cumulative difficulty `self` replaces the
    /// current tip of cumulative difficulty `tip` whose next block would
    /// weigh `next_block`: it must be heavier by more than
    /// `threshold × next_block`. Equal work never switches (first seen wins).
    pub fn surpasses(&self, tip: &Difficulty, next_block: &Difficulty, threshold: Ratio) -> bool {
        let denominator = BigUint::from(threshold.denominator);
        let left = &self.0 * &denominator;
        let right = &tip.0 * &denominator + &next_block.0 * BigUint::from(threshold.numerator);
        left > right
    }
}

impl fmt::Debug for Difficulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Difficulty({})", self.0)
    }
}

impl fmt::Display for Difficulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The child target of a block at a retarget height, from the work done
/// over the window: `2^256 × actual / (frequency × work)`, where `actual`
/// is `ts(h) − ts(h − w)` in seconds (may be zero or negative) and `work`
/// the sum of the difficulties of the window's blocks — the target at
/// which the stake seen in the window produces one block per `frequency`
/// seconds. The result is clamped to `[parent × down, parent × up]`,
/// truncated, and saturated to `[1, 2^256 − 1]`.
pub fn retarget(
    parent_target: Target,
    actual_seconds: i128,
    block_frequency: u64,
    work: &Difficulty,
    up: Ratio,
    down: Ratio,
) -> Target {
    let parent = parent_target.to_biguint();
    let lower = &parent * BigUint::from(down.numerator) / BigUint::from(down.denominator);
    let upper = &parent * BigUint::from(up.numerator) / BigUint::from(up.denominator);
    let actual = u128::try_from(actual_seconds.max(0)).unwrap_or(0);
    let divisor = BigUint::from(block_frequency) * &work.0;
    let estimate = if divisor.is_zero() {
        upper.clone()
    } else {
        (BigUint::from(actual) << 256u32) / divisor
    };
    Target::from_biguint_saturating(&estimate.clamp(lower, upper))
}

/// The virtual block ID at height `−k` (k ≥ 1) used by the stake
/// modifier before genesis.
pub fn pre_genesis_id(genesis: &BlockId, k: u64) -> BlockId {
    BlockId(tagged_hash_parts(
        HashTag::GenesisStakeModifier,
        &[genesis.0.as_bytes(), &k.to_le_bytes()],
    ))
}

/// A 256-bit stake modifier (big-endian bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StakeModifier(pub [u8; 32]);

impl fmt::Debug for StakeModifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StakeModifier({})", hex::encode(self.0))
    }
}

/// Builds the stake modifier of a block at `height`. `id_at(s)` returns the
/// ID of the block at height `s` (s ≥ 0) on the chain being extended;
/// `pre_genesis(k)` the virtual ID at height `−k`.
pub fn stake_modifier(
    height: u64,
    delay: u64,
    mut id_at: impl FnMut(u64) -> BlockId,
    mut pre_genesis: impl FnMut(u64) -> BlockId,
) -> StakeModifier {
    let mut modifier = [0u8; 32];
    for bit in 0u64..256 {
        let offset = delay + bit;
        let id = if offset <= height {
            id_at(height - offset)
        } else {
            pre_genesis(offset - height)
        };
        let byte = 31 - (bit / 8) as usize;
        let mask = 1u8 << (bit % 8);
        if id.0.0[byte] & mask != 0 {
            modifier[byte] |= mask;
        }
    }
    StakeModifier(modifier)
}

/// The lottery hash of a stake output at `position` trying `timestamp`.
pub fn lottery_hash(
    modifier: &StakeModifier,
    position: &BlockStakePosition,
    timestamp: Timestamp,
) -> Hash32 {
    tagged_hash_parts(
        HashTag::StakeLottery,
        &[
            &modifier.0,
            &codec::encode(position),
            &timestamp.0.to_le_bytes(),
        ],
    )
}

/// `target × value`: the bound a lottery hash must stay below.
pub fn winning_bound(target: Target, value: BlockStakes) -> BigUint {
    target.to_biguint() * BigUint::from(value.0)
}

/// Whether `hash` wins against a [`winning_bound`].
pub fn wins(hash: &Hash32, bound: &BigUint) -> bool {
    BigUint::from_bytes_be(hash.as_bytes()) < *bound
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: Ratio = Ratio {
        numerator: 5,
        denominator: 2,
    };
    const DOWN: Ratio = Ratio {
        numerator: 2,
        denominator: 5,
    };

    fn target(value: u64) -> Target {
        Target::from_biguint_saturating(&BigUint::from(value))
    }

    #[test]
    fn saturation_and_difficulty() {
        assert_eq!(Target::from_biguint_saturating(&BigUint::zero()), target(1));
        let huge = BigUint::one() << 300u32;
        assert_eq!(Target::from_biguint_saturating(&huge), Target::MAX);
        assert_eq!(Target::MAX.difficulty().0, BigUint::one());
        assert_eq!(target(1).difficulty().0, BigUint::one() << 256u32);
        assert_eq!(target(4).difficulty().0, BigUint::one() << 254u32);
    }

    #[test]
    fn initial_target_divides_the_root_depth() {
        let t = Target::initial(10, BlockStakes(1000));
        assert_eq!(
            t.to_biguint(),
            Target::MAX.to_biguint() / BigUint::from(10_000u32)
        );
        assert_eq!(Target::initial(10, BlockStakes(0)), Target::MAX);
    }

    #[test]
    fn retarget_estimates_from_work_and_clamps() {
        let parent = target(1 << 40);
        // 100 blocks at the parent's target: work = 100 × difficulty.
        let work = Difficulty(&parent.difficulty().0 * BigUint::from(100u32));
        // On time (10 s each): unchanged.
        assert_eq!(retarget(parent, 1000, 10, &work, UP, DOWN), parent);
        // Twice as slow: target doubles (easier).
        assert_eq!(retarget(parent, 2000, 10, &work, UP, DOWN), target(1 << 41));
        // Ten times slower: clamped to ×2.5.
        assert_eq!(
            retarget(parent, 10_000, 10, &work, UP, DOWN),
            target((1u64 << 40) / 2 * 5)
        );
        // Instant or backwards: clamped to ×0.4.
        assert_eq!(
            retarget(parent, 0, 10, &work, UP, DOWN),
            target((1u64 << 40) * 2 / 5)
        );
        assert_eq!(
            retarget(parent, -50, 10, &work, UP, DOWN),
            target((1u64 << 40) * 2 / 5)
        );
        // The estimate ignores the parent (no overshoot after a change):
        // work done at half the parent's target, on time, gives half.
        let half = target(1 << 39);
        let work_at_half = Difficulty(&half.difficulty().0 * BigUint::from(100u32));
        assert_eq!(retarget(parent, 1000, 10, &work_at_half, UP, DOWN), half);
        // Saturates at the maximum.
        let tiny_work = Difficulty(BigUint::one());
        assert_eq!(
            retarget(Target::MAX, 1000, 10, &tiny_work, UP, DOWN),
            Target::MAX
        );
    }

    #[test]
    fn surpass_threshold_is_strict() {
        let tip = Difficulty(BigUint::from(1000u32));
        let block = Difficulty(BigUint::from(100u32));
        let fifth = Ratio {
            numerator: 1,
            denominator: 5,
        };
        assert!(!Difficulty(BigUint::from(1000u32)).surpasses(&tip, &block, fifth));
        assert!(!Difficulty(BigUint::from(1020u32)).surpasses(&tip, &block, fifth));
        assert!(Difficulty(BigUint::from(1021u32)).surpasses(&tip, &block, fifth));
        assert!(Difficulty(BigUint::from(1100u32)).surpasses(&tip, &block, fifth));
    }

    #[test]
    fn stake_modifier_takes_bit_i_from_height_minus_delay_minus_i() {
        // Block IDs whose value is their height's parity in every bit.
        let id_for = |height: u64| BlockId(Hash32([if height % 2 == 1 { 0xff } else { 0 }; 32]));
        let genesis = BlockId(Hash32([7; 32]));
        let modifier = stake_modifier(1000, 10, id_for, |k| pre_genesis_id(&genesis, k));
        for bit in 0u64..256 {
            let source_height = 1000 - 10 - bit;
            let byte = 31 - (bit / 8) as usize;
            let set = modifier.0[byte] & (1 << (bit % 8)) != 0;
            assert_eq!(set, source_height % 2 == 1, "bit {bit}");
        }
        // Young chains draw from the pre-genesis IDs, deterministically.
        let young = stake_modifier(5, 10, id_for, |k| pre_genesis_id(&genesis, k));
        assert_eq!(
            young,
            stake_modifier(5, 10, id_for, |k| pre_genesis_id(&genesis, k))
        );
        let other_genesis = BlockId(Hash32([8; 32]));
        assert_ne!(
            young,
            stake_modifier(5, 10, id_for, |k| pre_genesis_id(&other_genesis, k))
        );
    }

    #[test]
    fn lottery_compares_hash_with_target_times_value() {
        let modifier = StakeModifier([3; 32]);
        let position = BlockStakePosition::default();
        let hash = lottery_hash(&modifier, &position, Timestamp(5));
        let value = BigUint::from_bytes_be(hash.as_bytes());
        // A bound one above the hash wins, the hash itself does not.
        assert!(wins(&hash, &(&value + BigUint::one())));
        assert!(!wins(&hash, &value));
        // Max target with any value always wins (no overflow).
        assert!(wins(
            &hash,
            &winning_bound(Target::MAX, BlockStakes(u64::MAX))
        ));
        assert_ne!(hash, lottery_hash(&modifier, &position, Timestamp(6)));
    }
}
