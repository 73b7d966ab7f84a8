//! Randomness: uniform polynomials expanded from seeds (ChaCha20), fixed-weight ternary secrets
//! and truncated discrete Gaussian errors.

use crate::params::CkksParams;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// A 32-byte seed.
pub type Seed = [u8; 32];

/// A ChaCha20 generator seeded from the operating system.
pub fn os_rng() -> ChaCha20Rng {
    rand::make_rng::<ChaCha20Rng>()
}

/// A fresh seed drawn from `rng`.
pub fn new_seed<R: Rng>(rng: &mut R) -> Seed {
    let mut s = [0u8; 32];
    rng.fill_bytes(&mut s);
    s
}

/// A uniform polynomial over `basis`, directly in the NTT domain (the NTT of a uniform polynomial is
/// uniform), expanded deterministically from `seed`.
pub fn uniform_from_seed(p: &CkksParams, seed: &Seed, basis: &[usize]) -> Vec<u64> {
    let n = p.n;
    let mut rng = ChaCha20Rng::from_seed(*seed);
    let mut out = vec![0u64; n * basis.len()];
    for (limb, &g) in out.chunks_mut(n).zip(basis) {
        let q = p.moduli[g].q;
        let mask = u64::MAX >> q.leading_zeros();
        for x in limb.iter_mut() {
            *x = loop {
                let v = rng.next_u64() & mask;
                if v < q {
                    break v;
                }
            };
        }
    }
    out
}

/// A ternary vector of length `n` with exactly `h` nonzero entries (±1 with equal probability).
pub fn ternary_fixed_weight<R: Rng>(rng: &mut R, n: usize, h: usize) -> Vec<i8> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut out = vec![0i8; n];
    for i in 0..h.min(n) {
        // Partial Fisher–Yates with rejection-free bounded sampling (Lemire).
        let range = (n - i) as u64;
        let j = i + bounded(rng, range) as usize;
        idx.swap(i, j);
        out[idx[i]] = if rng.next_u32() & 1 == 1 { 1 } else { -1 };
    }
    idx.iter_mut().for_each(|x| *x = 0);
    out
}

fn bounded<R: Rng>(rng: &mut R, range: u64) -> u64 {
    let zone = u64::MAX - (u64::MAX - range + 1) % range;
    loop {
        let v = rng.next_u64();
        if v <= zone {
            return v % range;
        }
    }
}

fn uniform_f64<R: Rng>(rng: &mut R) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// `n` samples of the discrete Gaussian of standard deviation `sigma`, truncated at `6σ`.
pub fn gaussian<R: Rng>(rng: &mut R, n: usize, sigma: f64) -> Vec<i64> {
    let bound = 6.0 * sigma;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        // Box–Muller gives two normals per pair of uniforms.
        let u1 = uniform_f64(rng);
        let u2 = uniform_f64(rng);
        let r = (-2.0 * u1.ln()).sqrt() * sigma;
        let th = 2.0 * std::f64::consts::PI * u2;
        for z in [r * th.cos(), r * th.sin()] {
            let k = z.round();
            if k.abs() <= bound && out.len() < n {
                out.push(k as i64);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ternary_has_exact_weight_and_gaussian_is_bounded() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let s = ternary_fixed_weight(&mut rng, 1024, 64);
        assert_eq!(s.iter().filter(|&&x| x != 0).count(), 64);
        assert!(s.iter().all(|&x| (-1..=1).contains(&x)));
        let e = gaussian(&mut rng, 1 << 14, 3.2);
        assert!(e.iter().all(|&x| x.abs() <= 19));
        let var = e.iter().map(|&x| (x * x) as f64).sum::<f64>() / e.len() as f64;
        assert!((var.sqrt() - 3.2).abs() < 0.15, "std {}", var.sqrt());
        let mean = e.iter().sum::<i64>() as f64 / e.len() as f64;
        assert!(mean.abs() < 0.15);
    }

    #[test]
    fn seeded_expansion_is_deterministic_and_in_range() {
        let p = CkksParams::new(&crate::presets::insecure_test_n10()).unwrap();
        let basis: Vec<usize> = (0..p.moduli.len()).collect();
        let a = uniform_from_seed(&p, &[7; 32], &basis);
        let b = uniform_from_seed(&p, &[7; 32], &basis);
        let c = uniform_from_seed(&p, &[8; 32], &basis);
        assert_eq!(a, b);
        assert_ne!(a, c);
        for (limb, &g) in a.chunks(p.n).zip(&basis) {
            assert!(limb.iter().all(|&x| x < p.moduli[g].q));
        }
    }
}
