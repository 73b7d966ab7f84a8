//! Word-size modular arithmetic: Shoup multiplication by fixed operands, lazy reductions of 128-bit
//! sums, modular exponentiation and inversion, and NTT-friendly prime generation.

/// A prime modulus `q < 2^62` with the precomputations used by the hot loops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Modulus {
    /// The modulus.
    pub q: u64,
    /// `floor(2^64 / q)`: the Shoup companion of 1, used to reduce a 64-bit word.
    one_shoup: u64,
    /// `2^64 mod q`.
    r64: u64,
    /// Shoup companion of `r64`.
    r64_shoup: u64,
    /// `1/q` as a float.
    inv_f64: f64,
}

/// The largest modulus bit size supported (lazy sums of four residues must fit a word).
pub const MAX_MODULUS_BITS: u32 = 61;

impl Modulus {
    /// Precomputes the constants for `q` (`2 < q < 2^61`, odd).
    pub fn new(q: u64) -> Self {
        assert!(
            q > 2 && q < (1u64 << MAX_MODULUS_BITS),
            "modulus out of range"
        );
        let one_shoup = ((1u128 << 64) / q as u128) as u64;
        let r64 = ((1u128 << 64) % q as u128) as u64;
        let r64_shoup = (((r64 as u128) << 64) / q as u128) as u64;
        Modulus {
            q,
            one_shoup,
            r64,
            r64_shoup,
            inv_f64: 1.0 / q as f64,
        }
    }

    /// The Shoup companion `floor(w · 2^64 / q)` of a fixed operand `w < q`.
    #[inline]
    pub fn shoup(&self, w: u64) -> u64 {
        debug_assert!(w < self.q);
        (((w as u128) << 64) / self.q as u128) as u64
    }

    /// `x · w mod q` in `[0, 2q)` for any `x < 2^64`, with `w' = shoup(w)`.
    #[inline(always)]
    pub fn mul_shoup_lazy(&self, x: u64, w: u64, w_shoup: u64) -> u64 {
        let qhat = ((x as u128 * w_shoup as u128) >> 64) as u64;
        x.wrapping_mul(w).wrapping_sub(qhat.wrapping_mul(self.q))
    }

    /// `x · w mod q` in `[0, q)` for any `x < 2^64`, with `w' = shoup(w)`.
    #[inline(always)]
    pub fn mul_shoup(&self, x: u64, w: u64, w_shoup: u64) -> u64 {
        let r = self.mul_shoup_lazy(x, w, w_shoup);
        if r >= self.q { r - self.q } else { r }
    }

    /// `x mod q` in `[0, 2q)` for any 64-bit `x`.
    #[inline(always)]
    pub fn reduce_lazy(&self, x: u64) -> u64 {
        let qhat = ((x as u128 * self.one_shoup as u128) >> 64) as u64;
        x.wrapping_sub(qhat.wrapping_mul(self.q))
    }

    /// `x mod q` for any 64-bit `x`.
    #[inline(always)]
    pub fn reduce(&self, x: u64) -> u64 {
        let r = self.reduce_lazy(x);
        if r >= self.q { r - self.q } else { r }
    }

    /// `x mod q` for any 128-bit `x`.
    #[inline(always)]
    pub fn reduce_u128(&self, x: u128) -> u64 {
        let hi = (x >> 64) as u64;
        let lo = x as u64;
        // hi·2^64 + lo ≡ hi·r64 + lo; both terms lazily in [0, 2q), the sum below 4q < 2^63.
        let mut r = self.mul_shoup_lazy(hi, self.r64, self.r64_shoup) + self.reduce_lazy(lo);
        if r >= 2 * self.q {
            r -= 2 * self.q;
        }
        if r >= self.q {
            r -= self.q;
        }
        r
    }

    /// `a · b mod q`.
    #[inline(always)]
    pub fn mul(&self, a: u64, b: u64) -> u64 {
        self.reduce_u128(a as u128 * b as u128)
    }

    /// Whether [`Modulus::mul_small`] may be used (`q < 2^50`).
    #[inline(always)]
    pub fn is_small(&self) -> bool {
        self.q < (1u64 << 50)
    }

    /// `a · b mod q` for `a, b < q < 2^50`, with the quotient estimated in `f64` (branch-free,
    /// auto-vectorisable). The estimate is within 1 of `floor(ab/q)`, so the remainder is
    /// corrected by at most one addition or subtraction of `q`.
    #[inline(always)]
    pub fn mul_small(&self, a: u64, b: u64) -> u64 {
        debug_assert!(self.is_small() && a < self.q && b < self.q);
        // Signed conversions are single instructions (the values are below 2^50).
        let qhat = (a as i64 as f64 * b as i64 as f64 * self.inv_f64) as i64 as u64;
        let r = a.wrapping_mul(b).wrapping_sub(qhat.wrapping_mul(self.q)) as i64;
        let q = self.q as i64;
        let r = if r < 0 { r + q } else { r };
        (if r >= q { r - q } else { r }) as u64
    }

    /// `a + b mod q` for `a, b < q`.
    #[inline(always)]
    pub fn add(&self, a: u64, b: u64) -> u64 {
        let s = a + b;
        if s >= self.q { s - self.q } else { s }
    }

    /// `a - b mod q` for `a, b < q`.
    #[inline(always)]
    pub fn sub(&self, a: u64, b: u64) -> u64 {
        if a >= b { a - b } else { a + self.q - b }
    }

    /// `-a mod q` for `a < q`.
    #[inline(always)]
    pub fn neg(&self, a: u64) -> u64 {
        if a == 0 { 0 } else { self.q - a }
    }

    /// `a^e mod q`.
    pub fn pow(&self, mut a: u64, mut e: u64) -> u64 {
        let mut r = 1 % self.q;
        a %= self.q;
        while e > 0 {
            if e & 1 == 1 {
                r = self.mul(r, a);
            }
            a = self.mul(a, a);
            e >>= 1;
        }
        r
    }

    /// `a^-1 mod q` (q prime, `a ≢ 0`).
    pub fn inv(&self, a: u64) -> u64 {
        self.pow(a, self.q - 2)
    }

    /// The residue of a signed integer.
    #[inline]
    pub fn from_i64(&self, x: i64) -> u64 {
        let r = self.reduce(x.unsigned_abs());
        if x < 0 { self.neg(r) } else { r }
    }

    /// The residue of an integer-valued `f64` (any magnitude; the value must be finite and is
    /// taken as the exact integer it represents).
    pub fn from_f64(&self, x: f64) -> u64 {
        debug_assert!(x.is_finite());
        let a = x.abs();
        let r = if a < 18446744073709551616.0 {
            self.reduce(a as u64)
        } else {
            // a = m · 2^e with an integer mantissa m < 2^53.
            let bits = a.to_bits();
            let exp = ((bits >> 52) & 0x7ff) as i64 - 1075;
            let mant = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
            debug_assert!(exp > 0);
            self.mul(self.reduce(mant), self.pow(2, exp as u64))
        };
        if x < 0.0 { self.neg(r) } else { r }
    }

    /// The centred representative of `a < q` as an `i64` in `(-q/2, q/2]`.
    #[inline]
    pub fn center(&self, a: u64) -> i64 {
        if a > self.q / 2 {
            a as i64 - self.q as i64
        } else {
            a as i64
        }
    }
}

/// Deterministic Miller–Rabin for 64-bit integers.
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    for p in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let mut d = n - 1;
    let mut s = 0;
    while d.is_multiple_of(2) {
        d /= 2;
        s += 1;
    }
    let mulmod = |a: u64, b: u64| ((a as u128 * b as u128) % n as u128) as u64;
    let powmod = |mut a: u64, mut e: u64| {
        let mut r = 1u64;
        while e > 0 {
            if e & 1 == 1 {
                r = mulmod(r, a);
            }
            a = mulmod(a, a);
            e >>= 1;
        }
        r
    };
    'witness: for a in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        let mut x = powmod(a, d);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mulmod(x, x);
            if x == n - 1 {
                continue 'witness;
            }
        }
        return false;
    }
    true
}

/// How [`generate_primes`] walks from `2^bits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrimeWalk {
    /// Only primes below `2^bits` (each has exactly `bits` bits).
    Below,
    /// Alternately the nearest unused prime above and below `2^bits`, so that products of
    /// consecutive primes stay close to powers of `2^bits` (keeps rescaled scales near `2^bits`).
    Alternate,
}

/// Primes `q ≡ 1 (mod 2n)` near `2^bits`, distinct from `exclude`; `None` if there are not enough.
pub fn generate_primes(
    bits: u32,
    count: usize,
    n: usize,
    walk: PrimeWalk,
    exclude: &[u64],
) -> Option<Vec<u64>> {
    let m = 2 * n as u64;
    if !(2..=MAX_MODULUS_BITS).contains(&bits) || (1u64 << bits) < m {
        return None;
    }
    let center = 1u64 << bits;
    let max = (1u64 << MAX_MODULUS_BITS) - 1;
    let mut below = center - m + 1; // largest candidate < center
    let mut above = center + m + 1; // smallest candidate > center (center + 1 is even·... never prime for bits > 1)
    let mut out = Vec::with_capacity(count);
    let mut take_above = true;
    let next_below = |below: &mut u64| -> Option<u64> {
        while *below > m {
            let c = *below;
            *below -= m;
            if is_prime(c) && !exclude.contains(&c) {
                return Some(c);
            }
        }
        None
    };
    let next_above = |above: &mut u64| -> Option<u64> {
        while *above < max && *above < center + (center >> 1) {
            let c = *above;
            *above += m;
            if is_prime(c) && !exclude.contains(&c) {
                return Some(c);
            }
        }
        None
    };
    // center + 1 itself is a candidate when it is prime (≡ 1 mod 2n as 2n | 2^bits).
    let mut center_checked = false;
    while out.len() < count {
        let p = match walk {
            PrimeWalk::Below => next_below(&mut below)?,
            PrimeWalk::Alternate => {
                if !center_checked {
                    center_checked = true;
                    if is_prime(center + 1) && !exclude.contains(&(center + 1)) && center < max {
                        out.push(center + 1);
                        take_above = false;
                        continue;
                    }
                }
                let p = if take_above {
                    next_above(&mut above).or_else(|| next_below(&mut below))
                } else {
                    next_below(&mut below).or_else(|| next_above(&mut above))
                };
                take_above = !take_above;
                p?
            }
        };
        out.push(p);
    }
    Some(out)
}

/// Reverses the lowest `bits` bits of `x`.
#[inline]
pub fn bit_reverse(x: usize, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        x.reverse_bits() >> (usize::BITS - bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PRIMES: [u64; 5] = [
        12289,
        1_152_921_504_606_830_593,
        1_099_511_480_321,
        562_949_953_443_841,
        2_305_843_009_213_693_951,
    ];

    #[test]
    fn miller_rabin_known_values() {
        assert!(
            is_prime(2) && is_prime(3) && is_prime(12289) && is_prime(2_305_843_009_213_693_951)
        );
        assert!(
            !is_prime(1) && !is_prime(561) && !is_prime(3_215_031_751) && !is_prime(1u64 << 61)
        );
        // Naive check on small numbers.
        for n in 0..2000u64 {
            let naive = n >= 2 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0);
            assert_eq!(is_prime(n), naive, "n = {n}");
        }
    }

    #[test]
    fn generated_primes_are_ntt_friendly_and_distinct() {
        let n = 1 << 12;
        let qs = generate_primes(40, 10, n, PrimeWalk::Alternate, &[]).unwrap();
        let mut sorted = qs.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 10);
        for &q in &qs {
            assert!(is_prime(q));
            assert_eq!(q % (2 * n as u64), 1);
            assert!((q as f64).log2() > 39.9 && (q as f64).log2() < 40.1);
        }
        let ps = generate_primes(50, 4, n, PrimeWalk::Below, &qs).unwrap();
        for &p in &ps {
            assert!(p < (1 << 50) && p > (1 << 49) && is_prime(p));
        }
    }

    proptest! {
        #[test]
        fn modular_ops_match_u128(idx in 0usize..4, a in any::<u64>(), b in any::<u64>(), x in any::<u128>()) {
            let q = PRIMES[idx];
            let m = Modulus::new(q);
            let (ar, br) = (a % q, b % q);
            let naive = |v: u128| (v % q as u128) as u64;
            prop_assert_eq!(m.mul(ar, br), naive(ar as u128 * br as u128));
            if m.is_small() {
                prop_assert_eq!(m.mul_small(ar, br), naive(ar as u128 * br as u128));
                prop_assert_eq!(m.mul_small(q - 1, q - 1), 1);
            }
            prop_assert_eq!(m.reduce(a), a % q);
            prop_assert_eq!(m.reduce_u128(x), naive(x));
            prop_assert_eq!(m.add(ar, br), naive(ar as u128 + br as u128));
            prop_assert_eq!(m.sub(ar, br), naive(ar as u128 + q as u128 - br as u128));
            let ws = m.shoup(br);
            let lazy = m.mul_shoup_lazy(a, br, ws);
            prop_assert!(lazy < 2 * q);
            prop_assert_eq!(m.mul_shoup(a, br, ws), naive(a as u128 * br as u128));
            if ar != 0 {
                prop_assert_eq!(m.mul(ar, m.inv(ar)), 1);
            }
            let s = (a >> 1) as i64 * if b & 1 == 1 { -1 } else { 1 };
            prop_assert_eq!(m.from_i64(s), (s as i128).rem_euclid(q as i128) as u64);
        }

        #[test]
        fn from_f64_is_exact(idx in 0usize..4, mant in (1u64 << 52)..(1u64 << 53), e in 0u32..200, neg in any::<bool>()) {
            let q = PRIMES[idx];
            let m = Modulus::new(q);
            let x = (mant as f64) * 2f64.powi(e as i32) * if neg { -1.0 } else { 1.0 };
            let expected = {
                let r = m.mul(mant % q, m.pow(2, e as u64));
                if neg { m.neg(r) } else { r }
            };
            prop_assert_eq!(m.from_f64(x), expected);
        }
    }

    #[test]
    fn edge_values() {
        for &q in &PRIMES[..4] {
            let m = Modulus::new(q);
            assert_eq!(m.reduce_u128(u128::MAX), (u128::MAX % q as u128) as u64);
            assert_eq!(m.mul(q - 1, q - 1), 1);
            assert_eq!(m.reduce(u64::MAX), u64::MAX % q);
            assert_eq!(m.center(q - 1), -1);
            assert_eq!(m.from_f64(-1.0), q - 1);
        }
        assert_eq!(bit_reverse(1, 3), 4);
        assert_eq!(bit_reverse(6, 3), 3);
    }
}
