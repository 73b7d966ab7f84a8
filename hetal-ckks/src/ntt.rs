//! Negacyclic number-theoretic transforms behind one internal trait.
//!
//! Both implementations use the same order: the forward transform takes coefficients in natural
//! order and leaves the evaluations in bit-reversed order, `out[i] = a(ψ^(2·brev(i)+1))` for a
//! primitive `2N`-th root `ψ`; the inverse undoes it exactly (normalised by `N^-1`).
//! [`TfheNtt`] (AVX-512 / IFMA through `tfhe-ntt`) is the fast path; [`ScalarNtt`] is the portable
//! reference and the test oracle.

use crate::arith::{Modulus, bit_reverse};
use std::fmt::Debug;

/// A negacyclic NTT for one prime and one ring degree.
pub trait NttBackend: Send + Sync + Debug {
    /// The prime.
    fn modulus(&self) -> u64;
    /// The ring degree N.
    fn size(&self) -> usize;
    /// Natural-order coefficients in `[0, q)` to bit-reversed evaluations in `[0, q)`.
    fn forward(&self, a: &mut [u64]);
    /// Bit-reversed evaluations to natural-order coefficients, multiplied by `N^-1`.
    fn inverse(&self, a: &mut [u64]);
    /// Like [`NttBackend::inverse`] but without the `N^-1` factor (the caller folds it into a later
    /// multiplication).
    fn inverse_unnormalized(&self, a: &mut [u64]);
}

/// The fast transform from `tfhe-ntt` (runtime-dispatched AVX-512, IFMA for primes below 2^50).
#[derive(Debug)]
pub struct TfheNtt {
    plan: tfhe_ntt::prime64::Plan,
}

impl TfheNtt {
    /// A plan for `n` and `q`, or `None` if `q` is not an NTT-friendly prime for `n` (or n < 16).
    pub fn new(n: usize, q: u64) -> Option<Self> {
        tfhe_ntt::prime64::Plan::try_new(n, q).map(|plan| TfheNtt { plan })
    }

    /// Whether this plan runs the IFMA (52-bit) code path.
    pub fn uses_ifma(&self) -> bool {
        self.plan.use_ifma()
    }
}

impl NttBackend for TfheNtt {
    fn modulus(&self) -> u64 {
        self.plan.modulus()
    }
    fn size(&self) -> usize {
        self.plan.ntt_size()
    }
    fn forward(&self, a: &mut [u64]) {
        self.plan.fwd(a);
    }
    fn inverse(&self, a: &mut [u64]) {
        self.plan.inv(a);
        self.plan.normalize(a);
    }
    fn inverse_unnormalized(&self, a: &mut [u64]) {
        self.plan.inv(a);
    }
}

/// Portable radix-2 transform (Cooley–Tukey forward, Gentleman–Sande inverse, Shoup twiddles).
#[derive(Debug, Clone)]
pub struct ScalarNtt {
    m: Modulus,
    n: usize,
    /// `ψ^brev(k)` for k < n, with Shoup companions.
    psi_rev: Vec<u64>,
    psi_rev_shoup: Vec<u64>,
    /// `ψ^-brev(k)`, with Shoup companions.
    ipsi_rev: Vec<u64>,
    ipsi_rev_shoup: Vec<u64>,
    n_inv: u64,
    n_inv_shoup: u64,
}

impl ScalarNtt {
    /// A transform for `n` (a power of two ≥ 2) and prime `q ≡ 1 mod 2n`, with the given primitive
    /// `2n`-th root `psi`. Returns `None` if `psi` is not one.
    pub fn with_root(n: usize, q: u64, psi: u64) -> Option<Self> {
        if !n.is_power_of_two() || n < 2 || q % (2 * n as u64) != 1 {
            return None;
        }
        let m = Modulus::new(q);
        if m.pow(psi, n as u64) != q - 1 {
            return None;
        }
        let log_n = n.trailing_zeros();
        let ipsi = m.inv(psi);
        let mut psi_rev = vec![0; n];
        let mut ipsi_rev = vec![0; n];
        let (mut p, mut ip) = (1u64, 1u64);
        for k in 0..n {
            let r = bit_reverse(k, log_n);
            psi_rev[r] = p;
            ipsi_rev[r] = ip;
            p = m.mul(p, psi);
            ip = m.mul(ip, ipsi);
        }
        let psi_rev_shoup = psi_rev.iter().map(|&w| m.shoup(w)).collect();
        let ipsi_rev_shoup = ipsi_rev.iter().map(|&w| m.shoup(w)).collect();
        let n_inv = m.inv(n as u64);
        Some(ScalarNtt {
            m,
            n,
            psi_rev,
            psi_rev_shoup,
            ipsi_rev,
            ipsi_rev_shoup,
            n_inv,
            n_inv_shoup: m.shoup(n_inv),
        })
    }

    /// A transform with the smallest primitive `2n`-th root found by search.
    pub fn new(n: usize, q: u64) -> Option<Self> {
        let psi = find_primitive_root(n, q)?;
        Self::with_root(n, q, psi)
    }

    fn inverse_core(&self, a: &mut [u64]) {
        let q = self.m.q;
        let two_q = 2 * q;
        let mut t = 1;
        let mut m = self.n;
        while m > 1 {
            let h = m / 2;
            let mut j1 = 0;
            for i in 0..h {
                let w = self.ipsi_rev[h + i];
                let ws = self.ipsi_rev_shoup[h + i];
                for j in j1..j1 + t {
                    // Inputs in [0, 2q).
                    let u = a[j];
                    let v = a[j + t];
                    let mut s = u + v;
                    if s >= two_q {
                        s -= two_q;
                    }
                    a[j] = s;
                    a[j + t] = self.m.mul_shoup_lazy(u + two_q - v, w, ws);
                }
                j1 += 2 * t;
            }
            t *= 2;
            m = h;
        }
        for x in a.iter_mut() {
            *x = if *x >= q { *x - q } else { *x };
        }
    }
}

impl NttBackend for ScalarNtt {
    fn modulus(&self) -> u64 {
        self.m.q
    }
    fn size(&self) -> usize {
        self.n
    }
    fn forward(&self, a: &mut [u64]) {
        assert_eq!(a.len(), self.n);
        let q = self.m.q;
        let two_q = 2 * q;
        let mut t = self.n;
        let mut m = 1;
        while m < self.n {
            t /= 2;
            for i in 0..m {
                let j1 = 2 * i * t;
                let w = self.psi_rev[m + i];
                let ws = self.psi_rev_shoup[m + i];
                for j in j1..j1 + t {
                    // Harvey butterfly, values kept in [0, 4q).
                    let mut u = a[j];
                    if u >= two_q {
                        u -= two_q;
                    }
                    let v = self.m.mul_shoup_lazy(a[j + t], w, ws);
                    a[j] = u + v;
                    a[j + t] = u + two_q - v;
                }
            }
            m *= 2;
        }
        for x in a.iter_mut() {
            let mut y = *x;
            if y >= two_q {
                y -= two_q;
            }
            if y >= q {
                y -= q;
            }
            *x = y;
        }
    }
    fn inverse(&self, a: &mut [u64]) {
        assert_eq!(a.len(), self.n);
        self.inverse_core(a);
        for x in a.iter_mut() {
            *x = self.m.mul_shoup(*x, self.n_inv, self.n_inv_shoup);
        }
    }
    fn inverse_unnormalized(&self, a: &mut [u64]) {
        assert_eq!(a.len(), self.n);
        self.inverse_core(a);
    }
}

/// The smallest primitive `2n`-th root of unity mod `q`, if `q ≡ 1 mod 2n`.
pub fn find_primitive_root(n: usize, q: u64) -> Option<u64> {
    let two_n = 2 * n as u64;
    if q % two_n != 1 {
        return None;
    }
    let m = Modulus::new(q);
    let cofactor = (q - 1) / two_n;
    (2..q.min(1 << 20))
        .map(|g| m.pow(g, cofactor))
        .find(|&r| m.pow(r, n as u64) == q - 1)
}

/// The root `ψ` that a backend's forward transform uses, read off the transform of `X`, checked
/// against the order documented in this module. `None` if the backend uses another order.
pub fn backend_root(ntt: &dyn NttBackend) -> Option<u64> {
    let n = ntt.size();
    let m = Modulus::new(ntt.modulus());
    let mut x = vec![0u64; n];
    x[1] = 1;
    ntt.forward(&mut x);
    let psi = x[0];
    let log_n = n.trailing_zeros();
    let psi2 = m.mul(psi, psi);
    // x[i] must be ψ^(2·brev(i)+1); walk exponents in natural order.
    let mut pow = psi;
    for k in 0..n {
        if x[bit_reverse(k, log_n)] != pow {
            return None;
        }
        pow = m.mul(pow, psi2);
    }
    if m.pow(psi, n as u64) != m.q - 1 {
        return None;
    }
    Some(psi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::{PrimeWalk, generate_primes};
    use proptest::prelude::*;

    fn naive_forward(a: &[u64], q: u64, psi: u64) -> Vec<u64> {
        let m = Modulus::new(q);
        let n = a.len();
        let log_n = n.trailing_zeros();
        (0..n)
            .map(|i| {
                let x = m.pow(psi, (2 * bit_reverse(i, log_n) + 1) as u64);
                a.iter().rev().fold(0u64, |acc, &c| m.add(m.mul(acc, x), c))
            })
            .collect()
    }

    #[test]
    fn known_answer_n16_q97() {
        // q = 97 ≡ 1 mod 32, ψ = 28 has order 32 (28^16 ≡ -1 mod 97).
        let ntt = ScalarNtt::with_root(16, 97, 28).unwrap();
        let mut a: Vec<u64> = (0..16).collect();
        ntt.forward(&mut a);
        assert_eq!(a, naive_forward(&(0..16).collect::<Vec<_>>(), 97, 28));
        // Evaluation of the constant 1 is all ones; of X is the list of points.
        let mut one = vec![0u64; 16];
        one[0] = 1;
        ntt.forward(&mut one);
        assert_eq!(one, vec![1; 16]);
        let mut x = vec![0u64; 16];
        x[1] = 1;
        ntt.forward(&mut x);
        assert_eq!(x[0], 28);
        assert_eq!(x[8], Modulus::new(97).pow(28, 3)); // brev(8) = 1 → ψ^3
        ntt.inverse(&mut a);
        assert_eq!(a, (0..16).collect::<Vec<u64>>());
    }

    #[test]
    fn scalar_matches_naive_and_tfhe_on_several_primes() {
        for log_n in [4u32, 5, 8, 10] {
            let n = 1usize << log_n;
            let mut qs = generate_primes(40, 2, n, PrimeWalk::Below, &[]).unwrap();
            qs.extend(generate_primes(60, 1, n, PrimeWalk::Below, &[]).unwrap());
            qs.extend(generate_primes(50, 1, n, PrimeWalk::Below, &[]).unwrap());
            for q in qs {
                let fast = TfheNtt::new(n, q).unwrap();
                let psi = backend_root(&fast).expect("tfhe-ntt order");
                let scalar = ScalarNtt::with_root(n, q, psi).unwrap();
                assert_eq!(backend_root(&scalar), Some(psi));
                let a: Vec<u64> = (0..n as u64)
                    .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % q)
                    .collect();
                let mut b1 = a.clone();
                let mut b2 = a.clone();
                fast.forward(&mut b1);
                scalar.forward(&mut b2);
                assert_eq!(b1, b2);
                if n <= 256 {
                    assert_eq!(b1, naive_forward(&a, q, psi));
                }
                fast.inverse(&mut b1);
                scalar.inverse(&mut b2);
                assert_eq!(b1, a);
                assert_eq!(b2, a);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn roundtrip_and_convolution(seed in any::<u64>(), big in any::<bool>()) {
            let n = 64;
            let q = generate_primes(if big { 61 } else { 49 }, 1, n, PrimeWalk::Below, &[]).unwrap()[0];
            let m = Modulus::new(q);
            let ntt = ScalarNtt::new(n, q).unwrap();
            let fast = TfheNtt::new(n, q).unwrap();
            let mut s = seed;
            let mut next = || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); s };
            // Edge values 0 and q-1 included.
            let a: Vec<u64> = (0..n).map(|i| match i { 0 => 0, 1 => q - 1, _ => next() % q }).collect();
            let b: Vec<u64> = (0..n).map(|_| next() % q).collect();
            let (mut fa, mut fb) = (a.clone(), b.clone());
            ntt.forward(&mut fa);
            ntt.forward(&mut fb);
            let mut fa2 = a.clone();
            fast.forward(&mut fa2);
            let psi = backend_root(&fast).unwrap();
            let reference = ScalarNtt::with_root(n, q, psi).unwrap();
            let mut fa3 = a.clone();
            reference.forward(&mut fa3);
            prop_assert_eq!(&fa2, &fa3);
            let mut prod: Vec<u64> = fa.iter().zip(&fb).map(|(&x, &y)| m.mul(x, y)).collect();
            ntt.inverse(&mut prod);
            // Naive negacyclic convolution.
            let mut naive = vec![0u64; n];
            for i in 0..n {
                for j in 0..n {
                    let p = m.mul(a[i], b[j]);
                    if i + j < n { naive[i + j] = m.add(naive[i + j], p); } else { naive[i + j - n] = m.sub(naive[i + j - n], p); }
                }
            }
            prop_assert_eq!(prod, naive);
            let mut back = fa.clone();
            ntt.inverse_unnormalized(&mut back);
            let n_mod = n as u64 % q;
            prop_assert_eq!(back, a.iter().map(|&x| m.mul(x, n_mod)).collect::<Vec<_>>());
        }
    }
}
