//! The CKKS canonical embedding: the special FFT in the `5^j` slot order, with sparse packing.
//!
//! With `n` slots the plaintext polynomial lives in `Y = X^(N/2n)`. Slot `j` is `m'(ξ^(5^j))` for
//! `ξ = e^(2πi/4n)`. Writing `w_k = a_k + i·a_{k+n}` (k < n) for the real coefficients `a` of
//! `m'`, slot `j` equals `Σ_k w_k ξ^k · ω^(t_j k)` with `ω = e^(2πi/n)` and `t_j = (5^j mod 4n − 1)/4`:
//! a length-`n` FFT of the twisted vector, read in the order `t_j`.

use hetal_traits::Complex64;

/// Precomputed tables of the special FFT for `n` slots.
#[derive(Debug, Clone)]
pub struct SlotEncoder {
    n: usize,
    /// `t_j` for each slot `j`.
    perm: Vec<usize>,
    /// `ξ^k` for k < n.
    twist: Vec<Complex64>,
    /// `ω^k` for k < n/2 (FFT twiddles).
    roots: Vec<Complex64>,
}

impl SlotEncoder {
    /// Tables for `n` slots (a power of two).
    pub fn new(n: usize) -> Self {
        assert!(n.is_power_of_two());
        let m = 4 * n;
        let mut perm = Vec::with_capacity(n);
        let mut g = 1usize;
        for _ in 0..n {
            perm.push((g - 1) / 4);
            g = g * 5 % m;
        }
        let twist = (0..n)
            .map(|k| Complex64::from_polar(1.0, 2.0 * std::f64::consts::PI * k as f64 / m as f64))
            .collect();
        let roots = (0..n / 2)
            .map(|k| Complex64::from_polar(1.0, 2.0 * std::f64::consts::PI * k as f64 / n as f64))
            .collect();
        SlotEncoder {
            n,
            perm,
            twist,
            roots,
        }
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.n
    }

    /// In-place FFT `F[t] = Σ_k u_k ω^(±tk)` (sign from `inverse`), no normalisation.
    fn fft(&self, a: &mut [Complex64], inverse: bool) {
        let n = a.len();
        if n <= 1 {
            return;
        }
        let bits = n.trailing_zeros();
        for i in 0..n {
            let j = crate::arith::bit_reverse(i, bits);
            if i < j {
                a.swap(i, j);
            }
        }
        let mut len = 2;
        while len <= n {
            let step = n / len;
            for start in (0..n).step_by(len) {
                for k in 0..len / 2 {
                    let w = self.roots[k * step];
                    let w = if inverse { w.conj() } else { w };
                    let u = a[start + k];
                    let v = a[start + k + len / 2] * w;
                    a[start + k] = u + v;
                    a[start + k + len / 2] = u - v;
                }
            }
            len <<= 1;
        }
    }

    /// Slot values (`values.len() ≤ n`, the rest zero) to the `2n` real coefficients of `m'`
    /// (unscaled): `a_k = Re w_k`, `a_{k+n} = Im w_k`.
    pub fn encode(&self, values: &[Complex64]) -> Vec<f64> {
        let n = self.n;
        let mut f = vec![Complex64::new(0.0, 0.0); n];
        for (j, v) in values.iter().enumerate() {
            f[self.perm[j]] = *v;
        }
        self.fft(&mut f, true);
        let inv_n = 1.0 / n as f64;
        let mut out = vec![0.0; 2 * n];
        for k in 0..n {
            let w = f[k] * self.twist[k].conj() * inv_n;
            out[k] = w.re;
            out[k + n] = w.im;
        }
        out
    }

    /// The `2n` real coefficients of `m'` (unscaled) to the `n` slot values.
    pub fn decode(&self, coeffs: &[f64]) -> Vec<Complex64> {
        let n = self.n;
        let mut u: Vec<Complex64> = (0..n)
            .map(|k| Complex64::new(coeffs[k], coeffs[k + n]) * self.twist[k])
            .collect();
        self.fft(&mut u, false);
        self.perm.iter().map(|&t| u[t]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive evaluation of m'(ξ^(5^j)) from the real coefficients.
    fn naive_decode(coeffs: &[f64], n: usize) -> Vec<Complex64> {
        let m = 4 * n;
        let mut g = 1usize;
        let mut out = Vec::new();
        for _ in 0..n {
            let mut s = Complex64::new(0.0, 0.0);
            for (k, &c) in coeffs.iter().enumerate() {
                s += c * Complex64::from_polar(
                    1.0,
                    2.0 * std::f64::consts::PI * ((g * k) % m) as f64 / m as f64,
                );
            }
            out.push(s);
            g = g * 5 % m;
        }
        out
    }

    #[test]
    fn special_fft_matches_naive_evaluation_and_inverts() {
        for n in [1usize, 2, 4, 8, 64] {
            let enc = SlotEncoder::new(n);
            let coeffs: Vec<f64> = (0..2 * n).map(|i| ((i * 37 % 11) as f64) - 5.0).collect();
            let fast = enc.decode(&coeffs);
            let slow = naive_decode(&coeffs, n);
            for (a, b) in fast.iter().zip(&slow) {
                assert!((a - b).norm() < 1e-9, "n={n}: {a} vs {b}");
            }
            let back = enc.encode(&fast);
            for (a, b) in back.iter().zip(&coeffs) {
                assert!((a - b).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn rotation_is_the_automorphism_x_to_x5() {
        // Applying Y → Y^5 to the coefficients rotates the slots left by one.
        let n = 16;
        let enc = SlotEncoder::new(n);
        let vals: Vec<Complex64> = (0..n)
            .map(|i| Complex64::new(i as f64, -(i as f64) / 2.0))
            .collect();
        let coeffs = enc.encode(&vals);
        let mut rot = vec![0.0; 2 * n];
        for (k, &c) in coeffs.iter().enumerate() {
            let e = k * 5 % (4 * n);
            if e < 2 * n {
                rot[e] += c
            } else {
                rot[e - 2 * n] -= c
            }
        }
        let out = enc.decode(&rot);
        for t in 0..n {
            assert!((out[t] - vals[(t + 1) % n]).norm() < 1e-9);
        }
    }
}
