//! The one random number generator of the load runner: scenario picks ([`super::plan::Picker`])
//! and template values each own a seeded instance.

use std::cell::Cell;

/// A worker's random numbers (SplitMix64; not shared across threads): statistically sound for
/// choosing a mix or a template value, and a few instructions per draw.
pub(crate) struct Rng(Cell<u64>, Option<u64>);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(Cell::new(seed), None)
    }

    /// Draws for one iteration of a native user's sequence: every placeholder draws from its
    /// own generator seeded by `seed` and the placeholder ([`Rng::for_placeholder`]), so the
    /// same placeholder gives the same value in every step of the iteration.
    pub fn per_iteration(seed: u64) -> Rng {
        Rng(Cell::new(seed), Some(seed))
    }

    /// With [`Rng::per_iteration`], the generator of the placeholder whose text hashes to
    /// `key`; else `None` (draw from this one).
    pub fn for_placeholder(&self, key: u64) -> Option<Rng> {
        self.1.map(|seed| Rng::new(seed ^ key))
    }

    pub fn next_u64(&self) -> u64 {
        let state = self.0.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.0.set(state);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by Lemire's multiply-shift (bias below 2^-64 * n).
    pub fn below(&self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}
