//! Seeded randomness: one ChaCha stream per purpose, derived from the run's
//! seed and a label, so adding draws for one purpose never shifts another's.
//! Distributions are written out (inverse transform) so their results do
//! not depend on a library's sampling algorithm.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The stream for `label` under `seed`.
pub fn stream(seed: u64, label: &str) -> ChaCha8Rng {
    // FNV-1a over the label, mixed with the seed.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in label.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(seed.rotate_left(17) ^ hash)
}

/// A uniform draw in `(0, 1]` (never zero, so logarithms stay finite).
pub fn unit(rng: &mut ChaCha8Rng) -> f64 {
    1.0 - rng.random::<f64>()
}

/// An exponential draw with the given mean.
pub fn exponential(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    -mean * unit(rng).ln()
}

/// A Pareto draw with scale `minimum` and shape `alpha`.
pub fn pareto(rng: &mut ChaCha8Rng, minimum: f64, alpha: f64) -> f64 {
    minimum / unit(rng).powf(1.0 / alpha)
}

/// Fisher–Yates shuffle drawing from `rng`.
pub fn shuffle<T>(rng: &mut ChaCha8Rng, items: &mut [T]) {
    for index in (1..items.len()).rev() {
        let other = rng.random_range(0..=index);
        items.swap(index, other);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_deterministic_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| stream(7, "a").random()).collect();
        let again: Vec<u64> = (0..4).map(|_| stream(7, "a").random()).collect();
        assert_eq!(a, again);
        assert_ne!(
            stream(7, "a").random::<u64>(),
            stream(7, "b").random::<u64>()
        );
        assert_ne!(
            stream(7, "a").random::<u64>(),
            stream(8, "a").random::<u64>()
        );
    }

    #[test]
    fn exponential_mean_is_close() {
        let mut rng = stream(1, "exp");
        let draws = 20_000;
        let mean = (0..draws).map(|_| exponential(&mut rng, 3.0)).sum::<f64>() / draws as f64;
        assert!((mean - 3.0).abs() < 0.1, "{mean}");
    }
}
