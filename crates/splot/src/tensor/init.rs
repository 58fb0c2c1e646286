//! Seeded random numbers and the fan computation used by the initialisers.

use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A seeded, portable random generator (ChaCha8): the same seed gives the same numbers on
/// every machine and thread count.
#[derive(Clone, Debug)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// A generator from a seed.
    pub fn seed(seed: u64) -> Rng {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// One sample of `N(mean, std²)`.
    pub fn normal(&mut self, mean: f32, std: f32) -> f32 {
        let z: f32 = StandardNormal.sample(&mut self.0);
        mean + std * z
    }

    /// One sample of `U[low, high)`.
    pub fn uniform(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.0.random::<f32>()
    }

    /// A uniformly drawn index in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        self.0.random_range(0..n)
    }

    /// A raw 64-bit sample.
    pub fn next_u64(&mut self) -> u64 {
        self.0.random()
    }
}

/// `(fan_in, fan_out)` of a weight shape as PyTorch computes them: for `[out, in, k…]`,
/// `fan_in = in·Πk` and `fan_out = out·Πk`; a 1-d shape has both equal to its length.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape.len() {
        0 => (1, 1),
        1 => (shape[0], shape[0]),
        _ => {
            let receptive: usize = shape[2..].iter().product();
            (shape[1] * receptive, shape[0] * receptive)
        }
    }
}
