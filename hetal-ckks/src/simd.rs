//! Slice kernels of the hot loops, with AVX-512 versions chosen at run time.
//!
//! Two kinds of fast paths:
//!
//! * **Auto-vectorised** element-wise kernels (modular add, sub, negate): the portable loop is
//!   compiled a second time with AVX-512F/DQ/VL enabled and that copy runs when the CPU has them.
//! * **IFMA** kernels written with intrinsics for primes below 2^50: pointwise products, the
//!   ciphertext tensor product, Shoup multiplication by a fixed operand with 52-bit companions,
//!   and the reduction of 104-bit sums `hi·2^52 + lo` that the key-switching inner product and
//!   the fast basis conversion accumulate with `vpmadd52{lo,hi}uq`.
//!
//! Every kernel has a scalar fallback that gives identical results; the unit tests compare them.
//! Setting the environment variable `HETAL_CKKS_NO_IFMA` disables all AVX-512 paths (read once).

use crate::arith::Modulus;

/// Whether the AVX-512 (F, DQ, VL, IFMA) paths may run (checked once).
#[inline]
pub fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| {
            is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512dq")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512ifma")
                && std::env::var_os("HETAL_CKKS_NO_IFMA").is_none()
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines a kernel as a portable loop plus an AVX-512-enabled copy of the same loop.
macro_rules! vectorised {
    ($(#[$meta:meta])* pub fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn imp($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw")]
                unsafe fn v4($($arg: $ty),*) {
                    imp($($arg),*)
                }
                if avx512() {
                    // SAFETY: the CPU features were checked by `avx512`.
                    unsafe { v4($($arg),*) };
                    return;
                }
            }
            imp($($arg),*)
        }
    };
}

vectorised! {
    /// `out = a + b mod q` (inputs reduced).
    pub fn add_to(q: u64, out: &mut [u64], a: &[u64], b: &[u64]) {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            let s = x + y;
            *o = if s >= q { s - q } else { s };
        }
    }
}

vectorised! {
    /// `out = a - b mod q` (inputs reduced).
    pub fn sub_to(q: u64, out: &mut [u64], a: &[u64], b: &[u64]) {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            let d = x.wrapping_sub(y);
            *o = if x >= y { d } else { d.wrapping_add(q) };
        }
    }
}

vectorised! {
    /// `a += b mod q` (inputs reduced).
    pub fn add_assign(q: u64, a: &mut [u64], b: &[u64]) {
        for (o, &y) in a.iter_mut().zip(b) {
            let s = *o + y;
            *o = if s >= q { s - q } else { s };
        }
    }
}

vectorised! {
    /// `a -= b mod q` (inputs reduced).
    pub fn sub_assign(q: u64, a: &mut [u64], b: &[u64]) {
        for (o, &y) in a.iter_mut().zip(b) {
            let x = *o;
            let d = x.wrapping_sub(y);
            *o = if x >= y { d } else { d.wrapping_add(q) };
        }
    }
}

vectorised! {
    /// `out = -a mod q` (input reduced).
    pub fn neg_to(q: u64, out: &mut [u64], a: &[u64]) {
        for (o, &x) in out.iter_mut().zip(a) {
            *o = if x == 0 { 0 } else { q - x };
        }
    }
}

/// `out = a ⊙ b mod q` for any supported modulus (inputs reduced).
pub fn mul_to(m: Modulus, out: &mut [u64], a: &[u64], b: &[u64]) {
    let n = out.len().min(a.len()).min(b.len());
    #[cfg(target_arch = "x86_64")]
    if m.is_small() && avx512() {
        // SAFETY: features checked; the three ranges hold `n` words and `out` does not overlap
        // the inputs (distinct borrows).
        unsafe {
            ifma::mul_pointwise(Red52::new(m.q), out.as_mut_ptr(), a.as_ptr(), b.as_ptr(), n)
        };
        return;
    }
    if m.is_small() {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = m.mul_small(x, y);
        }
    } else {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = m.mul(x, y);
        }
    }
}

/// `a ⊙= b mod q` for any supported modulus (inputs reduced).
pub fn mul_assign(m: Modulus, a: &mut [u64], b: &[u64]) {
    let n = a.len().min(b.len());
    #[cfg(target_arch = "x86_64")]
    if m.is_small() && avx512() {
        let p = a.as_mut_ptr();
        // SAFETY: features checked; `mul_pointwise` reads each vector of `a` before writing it.
        unsafe { ifma::mul_pointwise(Red52::new(m.q), p, p, b.as_ptr(), n) };
        return;
    }
    if m.is_small() {
        for (o, &y) in a.iter_mut().zip(b) {
            *o = m.mul_small(*o, y);
        }
    } else {
        for (o, &y) in a.iter_mut().zip(b) {
            *o = m.mul(*o, y);
        }
    }
}

/// The tensor product of two degree-1 ciphertext limbs modulo `q < 2^50`: `x0 = a0·b0`,
/// `x1 = a0·b1 + a1·b0`, `x2 = a1·b1` (inputs reduced, all slices of one length). Returns false
/// (writing nothing) when the IFMA kernel cannot run.
pub fn tensor_small(q: u64, a: [&[u64]; 2], b: [&[u64]; 2], x: [&mut [u64]; 3]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if q < (1 << 50) && avx512() {
        let n = x[0].len();
        assert!(a.iter().chain(&b).all(|s| s.len() == n) && x.iter().all(|s| s.len() == n));
        // SAFETY: features and lengths checked.
        unsafe { ifma::tensor(Red52::new(q), a, b, x) };
        return true;
    }
    let _ = (q, a, b, x);
    false
}

vectorised! {
    /// The accumulation step of the fast CRT reconstruction: `s += y · f` (as `f64`) and
    /// `acc += y · h` (wrapping, i.e. modulo 2^64), element-wise.
    pub fn crt_accumulate(s: &mut [f64], acc: &mut [u64], y: &[u64], f: f64, h: u64) {
        for ((sv, av), &yv) in s.iter_mut().zip(acc.iter_mut()).zip(y) {
            *sv += yv as f64 * f;
            *av = av.wrapping_add(yv.wrapping_mul(h));
        }
    }
}

vectorised! {
    /// The centred lift of residues modulo a prime `ql` to a prime `q` with `ql < 2q`:
    /// `out[i] = v[i] − (v[i] > ql/2 ? ql : 0) mod q` for `v[i] < ql`, with `ql_mod_q = ql mod q`.
    pub fn centred_lift_near(q: u64, half: u64, ql_mod_q: u64, out: &mut [u64], v: &[u64]) {
        for (o, &x) in out.iter_mut().zip(v) {
            let r = if x >= q { x - q } else { x };
            let d = r.wrapping_sub(ql_mod_q);
            let lifted = if r >= ql_mod_q { d } else { d.wrapping_add(q) };
            *o = if x > half { lifted } else { r };
        }
    }
}

vectorised! {
    /// `flags[i] |= (a[i] != b[i])`.
    pub fn mark_mismatch(flags: &mut [u8], a: &[u64], b: &[u64]) {
        for ((f, &x), &y) in flags.iter_mut().zip(a).zip(b) {
            *f |= (x != y) as u8;
        }
    }
}

/// `out[i] = x[i] mod q` for signed `|x[i]| < 2^62`.
pub fn residues_i64(m: &Modulus, out: &mut [u64], x: &[i64]) {
    #[cfg(target_arch = "x86_64")]
    if m.is_small() && avx512() {
        // M: the multiple of q in [2^62, 2^62 + q); x + M lies in (0, 2^63 + q).
        let big = (1u64 << 62).div_ceil(m.q) * m.q;
        let n = out.len().min(x.len());
        debug_assert!(x.iter().all(|v| v.unsigned_abs() < 1 << 62));
        // SAFETY: features checked; lengths bounded by `n`.
        unsafe { ifma::residues(Red52::new(m.q), big, &mut out[..n], &x[..n]) };
        return;
    }
    for (o, &v) in out.iter_mut().zip(x) {
        *o = m.from_i64(v);
    }
}

/// A fixed multiplier `w < q` with its 64-bit Shoup companion and, for `q < 2^50`, its 52-bit
/// one (`floor(w · 2^52 / q)`) for the IFMA kernel.
#[derive(Clone, Copy, Debug)]
pub struct ShoupConst {
    /// The multiplier.
    pub w: u64,
    /// `floor(w · 2^64 / q)`.
    pub ws: u64,
    /// `floor(w · 2^52 / q)` (0 when `q ≥ 2^50`).
    pub ws52: u64,
}

impl ShoupConst {
    /// The constants of `w < q` for `m`.
    pub fn new(m: &Modulus, w: u64) -> Self {
        ShoupConst {
            w,
            ws: m.shoup(w),
            ws52: if m.is_small() {
                (((w as u128) << 52) / m.q as u128) as u64
            } else {
                0
            },
        }
    }
}

/// `out[i] = (a[i] + offset) · w mod q`, with `a[i] + offset < 2^52` when `q < 2^50` (any 64-bit
/// value otherwise). `offset` lets callers compute `(x + q - y)·w` style expressions in one pass
/// (see [`sub_mul_const_to`]).
pub fn mul_const_to(m: &Modulus, out: &mut [u64], a: &[u64], c: ShoupConst) {
    #[cfg(target_arch = "x86_64")]
    if m.is_small() && avx512() {
        // SAFETY: features checked; lengths are handled inside.
        unsafe { ifma::mul_const(m.q, out, a, None, c.w, c.ws52) };
        return;
    }
    for (o, &x) in out.iter_mut().zip(a) {
        *o = m.mul_shoup(x, c.w, c.ws);
    }
}

/// `a ·= w mod q` in place.
pub fn mul_const_assign(m: &Modulus, a: &mut [u64], c: ShoupConst) {
    #[cfg(target_arch = "x86_64")]
    if m.is_small() && avx512() {
        // SAFETY: features checked; `ifma::mul_const_inplace` reads each element before writing it.
        unsafe { ifma::mul_const_inplace(m.q, a, c.w, c.ws52) };
        return;
    }
    for x in a.iter_mut() {
        *x = m.mul_shoup(*x, c.w, c.ws);
    }
}

/// `a[i] = (a[i] + q - b[i]) · w mod q` in place (inputs reduced): `(a − b)·w`.
pub fn sub_mul_const_assign(m: &Modulus, a: &mut [u64], b: &[u64], c: ShoupConst) {
    #[cfg(target_arch = "x86_64")]
    if m.is_small() && avx512() {
        // SAFETY: features checked.
        unsafe { ifma::sub_mul_const_inplace(m.q, a, b, c.w, c.ws52) };
        return;
    }
    for (x, &y) in a.iter_mut().zip(b) {
        *x = m.mul_shoup(*x + m.q - y, c.w, c.ws);
    }
}

/// `a[i] = (b[i] + q - a[i]) · w mod q` in place (inputs reduced): `(b − a)·w`.
pub fn rsub_mul_const_assign(m: &Modulus, a: &mut [u64], b: &[u64], c: ShoupConst) {
    #[cfg(target_arch = "x86_64")]
    if m.is_small() && avx512() {
        // SAFETY: features checked.
        unsafe { ifma::rsub_mul_const_inplace(m.q, a, b, c.w, c.ws52) };
        return;
    }
    for (x, &y) in a.iter_mut().zip(b) {
        *x = m.mul_shoup(y + m.q - *x, c.w, c.ws);
    }
}

/// `out[i] = (a[i] + q - b[i]) · w mod q` (inputs reduced): `(a − b)·w` into `out`.
pub fn sub_mul_const_to(m: &Modulus, out: &mut [u64], a: &[u64], b: &[u64], c: ShoupConst) {
    #[cfg(target_arch = "x86_64")]
    if m.is_small() && avx512() {
        // SAFETY: features checked.
        unsafe { ifma::mul_const(m.q, out, a, Some(b), c.w, c.ws52) };
        return;
    }
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = m.mul_shoup(x + m.q - y, c.w, c.ws);
    }
}

/// Constants for reducing `hi·2^52 + lo` modulo `q < 2^50` in the IFMA kernels.
#[derive(Clone, Copy, Debug)]
pub struct Red52 {
    q: u64,
    /// `2^52 mod q`.
    r52: u64,
    /// `floor(r52 · 2^52 / q)`.
    r52s: u64,
    /// `floor(2^52 / q)`.
    ones: u64,
}

impl Red52 {
    /// The constants for `q < 2^50`.
    pub fn new(q: u64) -> Self {
        debug_assert!(q < 1 << 50);
        let r52 = ((1u128 << 52) % q as u128) as u64;
        Red52 {
            q,
            r52,
            r52s: (((r52 as u128) << 52) / q as u128) as u64,
            ones: ((1u128 << 52) / q as u128) as u64,
        }
    }
}

/// `Σ_j digits[j][idx(c)] · (kb[j][c], ka[j][c]) mod q` for every coefficient `c` of the outputs,
/// where `idx(c) = table[c]` (an automorphism in the NTT domain) or `c`. Every input must be below
/// `q < 2^50` and there must be fewer than 16 digits. Returns false (and writes nothing) when the
/// IFMA kernel cannot run; the caller then uses its scalar loop.
pub fn inner_product_small(
    q: u64,
    digits: &[&[u64]],
    kb: &[&[u64]],
    ka: &[&[u64]],
    table: Option<&[u32]>,
    o0: &mut [u64],
    o1: &mut [u64],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if q < (1 << 50) && avx512() && digits.len() < 16 {
        let n = o0.len();
        assert!(
            o1.len() == n
                && digits.iter().all(|d| d.len() >= n)
                && kb.iter().chain(ka).all(|k| k.len() >= n)
                && kb.len() == digits.len()
                && ka.len() == digits.len()
                && table.is_none_or(|t| t.len() >= n && t.iter().all(|&i| (i as usize) < n))
        );
        // SAFETY: features checked, lengths and table indices checked above.
        unsafe { ifma::inner_product(Red52::new(q), digits, kb, ka, table, o0, o1) };
        return true;
    }
    let _ = (q, digits, kb, ka, table, o0, o1);
    false
}

/// One target prime `t < 2^50` of [`conversion_target`].
pub struct IfmaTarget<'a> {
    /// Reduction constants of `t`.
    pub red: Red52,
    /// The multipliers of the source rows (below `t`), one per row given to the kernel.
    pub hats: &'a [u64],
    /// `v · Q̃ mod t` for `v = 0 ..= rows + 1`.
    pub vtab: &'a [u64],
}

/// `v[c] = floor(Σ_i src[i][c] · inv_q[i] + 1/2)` for `c < v.len()`: the overflow count of the
/// fast basis conversion (see `keyswitch::convert_blocked`).
pub fn conversion_v(src: &[&[u64]], inv_q: &[f64], v: &mut [u64]) {
    assert!(src.iter().all(|r| r.len() >= v.len()) && src.len() == inv_q.len());
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: features and lengths checked.
        unsafe { ifma::conversion_v(src, inv_q, v) };
        return;
    }
    for (c, vc) in v.iter_mut().enumerate() {
        let mut s = 0.0f64;
        for (r, &f) in src.iter().zip(inv_q) {
            s += r[c] as f64 * f;
        }
        *vc = (s + 0.5) as u64;
    }
}

/// One target of the fast basis conversion on the IFMA path: for `c < v.len()`,
/// `out[c] = [Σ_i rows[i][c]·hats_i − vtab[v[c]]]_t`. Every row value and hat must be below
/// 2^50 (rows of larger primes are split by the caller), `t < 2^50`, fewer than 4096 rows.
/// Returns false (writing nothing) when the kernel cannot run on this CPU.
pub fn conversion_target(rows: &[&[u64]], t: &IfmaTarget<'_>, v: &[u64], out: &mut [u64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        let len = v.len();
        assert!(rows.iter().all(|r| r.len() >= len) && out.len() >= len);
        assert!(t.hats.len() == rows.len() && rows.len() < 4096 && t.red.q < 1 << 50);
        assert!(v.iter().all(|&x| (x as usize) < t.vtab.len()));
        // SAFETY: features, lengths and table indices checked.
        unsafe { ifma::conversion_target(rows, t, v, &mut out[..len]) };
        return true;
    }
    let _ = (rows, t, v, out);
    false
}

#[cfg(target_arch = "x86_64")]
mod ifma {
    use super::{IfmaTarget, Red52};
    use std::arch::x86_64::*;

    const MASK52: i64 = (1i64 << 52) - 1;

    /// `hi·2^52 + lo mod q` per lane, for `hi + (lo >> 52) < 2^52` and `q < 2^50`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn reduce104(lo: __m512i, hi: __m512i, r: &Red52) -> __m512i {
        let mask = _mm512_set1_epi64(MASK52);
        let zero = _mm512_setzero_si512();
        let q = _mm512_set1_epi64(r.q as i64);
        let hi = _mm512_add_epi64(hi, _mm512_srli_epi64::<52>(lo));
        let lo = _mm512_and_si512(lo, mask);
        // hi · (2^52 mod q), Shoup: in [0, 2q).
        let qh = _mm512_madd52hi_epu64(zero, hi, _mm512_set1_epi64(r.r52s as i64));
        let t = _mm512_madd52lo_epu64(zero, hi, _mm512_set1_epi64(r.r52 as i64));
        let u = _mm512_madd52lo_epu64(zero, qh, q);
        let r1 = _mm512_and_si512(_mm512_sub_epi64(t, u), mask);
        // lo mod q, Shoup with w = 1: in [0, 2q).
        let qh2 = _mm512_madd52hi_epu64(zero, lo, _mm512_set1_epi64(r.ones as i64));
        let u2 = _mm512_madd52lo_epu64(zero, qh2, q);
        let r2 = _mm512_and_si512(_mm512_sub_epi64(lo, u2), mask);
        let s = _mm512_add_epi64(r1, r2);
        let s = _mm512_min_epu64(s, _mm512_sub_epi64(s, _mm512_add_epi64(q, q)));
        _mm512_min_epu64(s, _mm512_sub_epi64(s, q))
    }

    /// `x · w mod q` for lanes `x < 2^52`, `w < q < 2^50`, `ws = floor(w·2^52/q)`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn mul_shoup52(x: __m512i, w: __m512i, ws: __m512i, q: __m512i) -> __m512i {
        let zero = _mm512_setzero_si512();
        let mask = _mm512_set1_epi64(MASK52);
        let qh = _mm512_madd52hi_epu64(zero, x, ws);
        let t = _mm512_madd52lo_epu64(zero, x, w);
        let u = _mm512_madd52lo_epu64(zero, qh, q);
        let r = _mm512_and_si512(_mm512_sub_epi64(t, u), mask);
        _mm512_min_epu64(r, _mm512_sub_epi64(r, q))
    }

    /// `out[i] = a[i] · b[i] mod q` for `i < n`, `q < 2^50`, inputs reduced. `out` may equal `a`
    /// (each vector is read before it is written).
    ///
    /// # Safety
    /// AVX-512F and IFMA must be available; the pointers must be valid for `n` words.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub unsafe fn mul_pointwise(red: Red52, out: *mut u64, a: *const u64, b: *const u64, n: usize) {
        let zero = _mm512_setzero_si512();
        let mut c = 0;
        while c + 8 <= n {
            // SAFETY: c + 8 <= n.
            unsafe {
                let x = _mm512_loadu_si512(a.add(c) as *const __m512i);
                let y = _mm512_loadu_si512(b.add(c) as *const __m512i);
                let lo = _mm512_madd52lo_epu64(zero, x, y);
                let hi = _mm512_madd52hi_epu64(zero, x, y);
                _mm512_storeu_si512(out.add(c) as *mut __m512i, reduce104(lo, hi, &red));
            }
            c += 8;
        }
        let m = crate::arith::Modulus::new(red.q);
        for c in c..n {
            // SAFETY: c < n.
            unsafe { *out.add(c) = m.mul(*a.add(c), *b.add(c)) };
        }
    }

    /// `out[i] = (x[i] + big) mod q` with `x[i] + big` in `[0, 2^64)` (see
    /// [`super::residues_i64`]).
    ///
    /// # Safety
    /// AVX-512F and IFMA must be available; `out` and `x` of one length.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub unsafe fn residues(red: Red52, big: u64, out: &mut [u64], x: &[i64]) {
        let n = out.len();
        let bigv = _mm512_set1_epi64(big as i64);
        let mask = _mm512_set1_epi64(MASK52);
        let mut c = 0;
        while c + 8 <= n {
            // SAFETY: c + 8 <= n.
            unsafe {
                let u = _mm512_add_epi64(
                    _mm512_loadu_si512(x.as_ptr().add(c) as *const __m512i),
                    bigv,
                );
                let r = reduce104(_mm512_and_si512(u, mask), _mm512_srli_epi64::<52>(u), &red);
                _mm512_storeu_si512(out.as_mut_ptr().add(c) as *mut __m512i, r);
            }
            c += 8;
        }
        let m = crate::arith::Modulus::new(red.q);
        for c in c..n {
            out[c] = m.from_i64(x[c]);
        }
    }

    /// The kernel of [`super::tensor_small`].
    ///
    /// # Safety
    /// AVX-512F and IFMA must be available; all slices of one length.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub unsafe fn tensor(red: Red52, a: [&[u64]; 2], b: [&[u64]; 2], x: [&mut [u64]; 3]) {
        let n = x[0].len();
        let zero = _mm512_setzero_si512();
        let [x0, x1, x2] = x;
        let mut c = 0;
        while c + 8 <= n {
            // SAFETY: c + 8 <= n = every length.
            unsafe {
                let ld = |s: &[u64]| _mm512_loadu_si512(s.as_ptr().add(c) as *const __m512i);
                let (a0, a1, b0, b1) = (ld(a[0]), ld(a[1]), ld(b[0]), ld(b[1]));
                let r0 = reduce104(
                    _mm512_madd52lo_epu64(zero, a0, b0),
                    _mm512_madd52hi_epu64(zero, a0, b0),
                    &red,
                );
                let l1 = _mm512_madd52lo_epu64(_mm512_madd52lo_epu64(zero, a0, b1), a1, b0);
                let h1 = _mm512_madd52hi_epu64(_mm512_madd52hi_epu64(zero, a0, b1), a1, b0);
                let r1 = reduce104(l1, h1, &red);
                let r2 = reduce104(
                    _mm512_madd52lo_epu64(zero, a1, b1),
                    _mm512_madd52hi_epu64(zero, a1, b1),
                    &red,
                );
                _mm512_storeu_si512(x0.as_mut_ptr().add(c) as *mut __m512i, r0);
                _mm512_storeu_si512(x1.as_mut_ptr().add(c) as *mut __m512i, r1);
                _mm512_storeu_si512(x2.as_mut_ptr().add(c) as *mut __m512i, r2);
            }
            c += 8;
        }
        let m = crate::arith::Modulus::new(red.q);
        for c in c..n {
            x0[c] = m.mul(a[0][c], b[0][c]);
            x1[c] = m
                .reduce_u128(a[0][c] as u128 * b[1][c] as u128 + a[1][c] as u128 * b[0][c] as u128);
            x2[c] = m.mul(a[1][c], b[1][c]);
        }
    }

    /// `out = a · w` or, with `b`, `out = (a + q − b) · w`, mod `q < 2^50` (inputs reduced).
    ///
    /// # Safety
    /// AVX-512F and IFMA must be available.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub unsafe fn mul_const(
        q: u64,
        out: &mut [u64],
        a: &[u64],
        b: Option<&[u64]>,
        w: u64,
        ws: u64,
    ) {
        let n = out
            .len()
            .min(a.len())
            .min(b.map_or(usize::MAX, |b| b.len()));
        let (qv, wv, wsv) = (
            _mm512_set1_epi64(q as i64),
            _mm512_set1_epi64(w as i64),
            _mm512_set1_epi64(ws as i64),
        );
        let mut c = 0;
        while c + 8 <= n {
            // SAFETY: c + 8 <= n <= every length.
            unsafe {
                let mut x = _mm512_loadu_si512(a.as_ptr().add(c) as *const __m512i);
                if let Some(b) = b {
                    let y = _mm512_loadu_si512(b.as_ptr().add(c) as *const __m512i);
                    x = _mm512_sub_epi64(_mm512_add_epi64(x, qv), y);
                }
                let r = mul_shoup52(x, wv, wsv, qv);
                _mm512_storeu_si512(out.as_mut_ptr().add(c) as *mut __m512i, r);
            }
            c += 8;
        }
        let m = crate::arith::Modulus::new(q);
        let ws64 = m.shoup(w);
        for i in c..n {
            let x = a[i] + b.map_or(0, |b| q - b[i]);
            out[i] = m.mul_shoup(x, w, ws64);
        }
    }

    /// `a = a · w mod q < 2^50` in place.
    ///
    /// # Safety
    /// AVX-512F and IFMA must be available.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub unsafe fn mul_const_inplace(q: u64, a: &mut [u64], w: u64, ws: u64) {
        let n = a.len();
        let (qv, wv, wsv) = (
            _mm512_set1_epi64(q as i64),
            _mm512_set1_epi64(w as i64),
            _mm512_set1_epi64(ws as i64),
        );
        let mut c = 0;
        while c + 8 <= n {
            // SAFETY: c + 8 <= n.
            unsafe {
                let p = a.as_mut_ptr().add(c) as *mut __m512i;
                _mm512_storeu_si512(p, mul_shoup52(_mm512_loadu_si512(p), wv, wsv, qv));
            }
            c += 8;
        }
        let m = crate::arith::Modulus::new(q);
        let ws64 = m.shoup(w);
        for x in &mut a[c..] {
            *x = m.mul_shoup(*x, w, ws64);
        }
    }

    /// `a = (a + q − b) · w mod q < 2^50` in place.
    ///
    /// # Safety
    /// AVX-512F and IFMA must be available.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub unsafe fn sub_mul_const_inplace(q: u64, a: &mut [u64], b: &[u64], w: u64, ws: u64) {
        let n = a.len().min(b.len());
        let (qv, wv, wsv) = (
            _mm512_set1_epi64(q as i64),
            _mm512_set1_epi64(w as i64),
            _mm512_set1_epi64(ws as i64),
        );
        let mut c = 0;
        while c + 8 <= n {
            // SAFETY: c + 8 <= n.
            unsafe {
                let p = a.as_mut_ptr().add(c) as *mut __m512i;
                let y = _mm512_loadu_si512(b.as_ptr().add(c) as *const __m512i);
                let x = _mm512_sub_epi64(_mm512_add_epi64(_mm512_loadu_si512(p), qv), y);
                _mm512_storeu_si512(p, mul_shoup52(x, wv, wsv, qv));
            }
            c += 8;
        }
        let m = crate::arith::Modulus::new(q);
        let ws64 = m.shoup(w);
        for i in c..n {
            a[i] = m.mul_shoup(a[i] + q - b[i], w, ws64);
        }
    }

    /// `a = (b + q − a) · w mod q < 2^50` in place.
    ///
    /// # Safety
    /// AVX-512F and IFMA must be available.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub unsafe fn rsub_mul_const_inplace(q: u64, a: &mut [u64], b: &[u64], w: u64, ws: u64) {
        let n = a.len().min(b.len());
        let (qv, wv, wsv) = (
            _mm512_set1_epi64(q as i64),
            _mm512_set1_epi64(w as i64),
            _mm512_set1_epi64(ws as i64),
        );
        let mut c = 0;
        while c + 8 <= n {
            // SAFETY: c + 8 <= n.
            unsafe {
                let p = a.as_mut_ptr().add(c) as *mut __m512i;
                let y = _mm512_loadu_si512(b.as_ptr().add(c) as *const __m512i);
                let x = _mm512_sub_epi64(_mm512_add_epi64(y, qv), _mm512_loadu_si512(p));
                _mm512_storeu_si512(p, mul_shoup52(x, wv, wsv, qv));
            }
            c += 8;
        }
        let m = crate::arith::Modulus::new(q);
        let ws64 = m.shoup(w);
        for i in c..n {
            a[i] = m.mul_shoup(b[i] + q - a[i], w, ws64);
        }
    }

    /// The inner product of [`super::inner_product_small`].
    ///
    /// # Safety
    /// AVX-512F and IFMA must be available; all slices at least `o0.len()` long, table entries
    /// below `o0.len()`.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub unsafe fn inner_product(
        red: Red52,
        digits: &[&[u64]],
        kb: &[&[u64]],
        ka: &[&[u64]],
        table: Option<&[u32]>,
        o0: &mut [u64],
        o1: &mut [u64],
    ) {
        let n = o0.len();
        let nd = digits.len();
        let zero = _mm512_setzero_si512();
        let mut c = 0;
        while c + 8 <= n {
            let (mut l0, mut h0, mut l1, mut h1) = (zero, zero, zero, zero);
            // SAFETY: c + 8 <= n <= all lengths; gathered indices are < n.
            unsafe {
                let idx = table.map(|t| _mm256_loadu_si256(t.as_ptr().add(c) as *const __m256i));
                for j in 0..nd {
                    let x = match idx {
                        Some(ix) => {
                            _mm512_i32gather_epi64::<8>(ix, digits[j].as_ptr() as *const i64)
                        }
                        None => _mm512_loadu_si512(digits[j].as_ptr().add(c) as *const __m512i),
                    };
                    let b = _mm512_loadu_si512(kb[j].as_ptr().add(c) as *const __m512i);
                    let a = _mm512_loadu_si512(ka[j].as_ptr().add(c) as *const __m512i);
                    l0 = _mm512_madd52lo_epu64(l0, x, b);
                    h0 = _mm512_madd52hi_epu64(h0, x, b);
                    l1 = _mm512_madd52lo_epu64(l1, x, a);
                    h1 = _mm512_madd52hi_epu64(h1, x, a);
                }
                _mm512_storeu_si512(
                    o0.as_mut_ptr().add(c) as *mut __m512i,
                    reduce104(l0, h0, &red),
                );
                _mm512_storeu_si512(
                    o1.as_mut_ptr().add(c) as *mut __m512i,
                    reduce104(l1, h1, &red),
                );
            }
            c += 8;
        }
        let m = crate::arith::Modulus::new(red.q);
        for c in c..n {
            let i = table.map_or(c, |t| t[c] as usize);
            let (mut s0, mut s1) = (0u128, 0u128);
            for j in 0..nd {
                let x = digits[j][i] as u128;
                s0 += x * kb[j][c] as u128;
                s1 += x * ka[j][c] as u128;
            }
            o0[c] = m.reduce_u128(s0);
            o1[c] = m.reduce_u128(s1);
        }
    }

    /// `v[c] = floor(Σ_i src[i][c] · inv_q[i] + 1/2)`.
    ///
    /// # Safety
    /// AVX-512F/DQ must be available; every row at least `v.len()` long.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub unsafe fn conversion_v(src: &[&[u64]], inv_q: &[f64], v: &mut [u64]) {
        let len = v.len();
        let mut c = 0;
        while c + 8 <= len {
            let mut s = _mm512_set1_pd(0.5);
            for (r, &f) in src.iter().zip(inv_q) {
                // SAFETY: c + 8 <= len <= r.len().
                let x = unsafe { _mm512_loadu_si512(r.as_ptr().add(c) as *const __m512i) };
                s = _mm512_fmadd_pd(_mm512_cvtepu64_pd(x), _mm512_set1_pd(f), s);
            }
            // SAFETY: c + 8 <= len.
            unsafe {
                _mm512_storeu_si512(
                    v.as_mut_ptr().add(c) as *mut __m512i,
                    _mm512_cvttpd_epu64(s),
                )
            };
            c += 8;
        }
        for c in c..len {
            let mut s = 0.5f64;
            for (r, &f) in src.iter().zip(inv_q) {
                s = (r[c] as f64).mul_add(f, s);
            }
            v[c] = s as u64;
        }
    }

    /// One target of the conversion block: `out[c] = [Σ_i rows[i][c]·hats_i − vtab[v[c]]]_t`.
    ///
    /// # Safety
    /// AVX-512F/IFMA must be available; rows and `out` at least `v.len()` long, `v` inside `vtab`,
    /// every row value and hat below 2^50, fewer than 4096 rows.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub unsafe fn conversion_target(
        rows: &[&[u64]],
        t: &IfmaTarget<'_>,
        v: &[u64],
        out: &mut [u64],
    ) {
        let len = v.len();
        let zero = _mm512_setzero_si512();
        let q = _mm512_set1_epi64(t.red.q as i64);
        let mut c = 0;
        while c + 8 <= len {
            let (mut lo, mut hi) = (zero, zero);
            // SAFETY: c + 8 <= len <= every row, out; v values index vtab.
            unsafe {
                for (r, &h) in rows.iter().zip(t.hats) {
                    let x = _mm512_loadu_si512(r.as_ptr().add(c) as *const __m512i);
                    let hv = _mm512_set1_epi64(h as i64);
                    lo = _mm512_madd52lo_epu64(lo, x, hv);
                    hi = _mm512_madd52hi_epu64(hi, x, hv);
                }
                let r = reduce104(lo, hi, &t.red);
                let vi = _mm512_loadu_si512(v.as_ptr().add(c) as *const __m512i);
                let vt = _mm512_i64gather_epi64::<8>(vi, t.vtab.as_ptr() as *const i64);
                let d = _mm512_sub_epi64(r, vt);
                let o = _mm512_min_epu64(d, _mm512_add_epi64(d, q));
                _mm512_storeu_si512(out.as_mut_ptr().add(c) as *mut __m512i, o);
            }
            c += 8;
        }
        let m = crate::arith::Modulus::new(t.red.q);
        for c in c..len {
            let acc: u128 = rows
                .iter()
                .zip(t.hats)
                .map(|(r, &h)| r[c] as u128 * h as u128)
                .sum();
            out[c] = m.sub(m.reduce_u128(acc), t.vtab[v[c] as usize]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::{PrimeWalk, generate_primes};
    use proptest::prelude::*;

    fn rand_vec(seed: u64, n: usize, bound: u64) -> Vec<u64> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s % bound
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]
        /// Every kernel agrees with the scalar modular arithmetic, for 40-, 49- and 60-bit primes
        /// and lengths that are not multiples of the vector width.
        #[test]
        fn kernels_match_scalar(seed in any::<u64>(), which in 0usize..3, n in 1usize..200) {
            let bits = [40, 49, 60][which];
            let q = generate_primes(bits, 1, 16, PrimeWalk::Below, &[]).unwrap()[0];
            let m = Modulus::new(q);
            let a = rand_vec(seed, n, q);
            let b = rand_vec(seed ^ 0x9e37, n, q);
            let mut out = vec![0u64; n];
            add_to(q, &mut out, &a, &b);
            prop_assert!(out.iter().zip(&a).zip(&b).all(|((&o, &x), &y)| o == m.add(x, y)));
            sub_to(q, &mut out, &a, &b);
            prop_assert!(out.iter().zip(&a).zip(&b).all(|((&o, &x), &y)| o == m.sub(x, y)));
            neg_to(q, &mut out, &a);
            prop_assert!(out.iter().zip(&a).all(|(&o, &x)| o == m.neg(x)));
            mul_to(m, &mut out, &a, &b);
            prop_assert!(out.iter().zip(&a).zip(&b).all(|((&o, &x), &y)| o == m.mul(x, y)));
            // Centred lift from a prime near q (here q itself and a smaller one).
            for ql in [q, q - 2 * 16 * 3] {
                let v: Vec<u64> = a.iter().map(|&x| x % ql).collect();
                centred_lift_near(q, ql / 2, ql % q, &mut out, &v);
                for (&o, &x) in out.iter().zip(&v) {
                    let want = if x > ql / 2 { m.sub(m.reduce(x), m.reduce(ql)) } else { m.reduce(x) };
                    prop_assert_eq!(o, want);
                }
            }
            let mut c = a.clone();
            add_assign(q, &mut c, &b);
            sub_assign(q, &mut c, &b);
            prop_assert_eq!(&c, &a);
            mul_assign(m, &mut c, &b);
            prop_assert!(c.iter().zip(&a).zip(&b).all(|((&o, &x), &y)| o == m.mul(x, y)));
            let w = ShoupConst::new(&m, b[0]);
            mul_const_to(&m, &mut out, &a, w);
            prop_assert!(out.iter().zip(&a).all(|(&o, &x)| o == m.mul(x, w.w)));
            let mut c = a.clone();
            mul_const_assign(&m, &mut c, w);
            prop_assert_eq!(&c, &out);
            sub_mul_const_to(&m, &mut out, &a, &b, w);
            prop_assert!(out.iter().zip(&a).zip(&b).all(|((&o, &x), &y)| o == m.mul(m.sub(x, y), w.w)));
            let mut c = a.clone();
            sub_mul_const_assign(&m, &mut c, &b, w);
            prop_assert_eq!(&c, &out);
            let mut c = b.clone();
            rsub_mul_const_assign(&m, &mut c, &a, w);
            prop_assert_eq!(&c, &out);
            let (mut x0, mut x1, mut x2) = (vec![0u64; n], vec![0u64; n], vec![0u64; n]);
            let c2 = rand_vec(seed ^ 77, n, q);
            let d2 = rand_vec(seed ^ 78, n, q);
            if tensor_small(q, [&a, &b], [&c2, &d2], [&mut x0, &mut x1, &mut x2]) {
                for i in 0..n {
                    prop_assert_eq!(x0[i], m.mul(a[i], c2[i]));
                    prop_assert_eq!(x1[i], m.add(m.mul(a[i], d2[i]), m.mul(b[i], c2[i])));
                    prop_assert_eq!(x2[i], m.mul(b[i], d2[i]));
                }
            }
            let xs: Vec<i64> = a.iter().zip(&b).map(|(&u, &v)| ((u as i64) << 12) * if v & 1 == 1 { -1 } else { 1 } + v as i64 % 4096).collect();
            let xs: Vec<i64> = xs.iter().map(|&v| v.clamp(-(1 << 62) + 1, (1 << 62) - 1)).collect();
            residues_i64(&m, &mut out, &xs);
            prop_assert!(out.iter().zip(&xs).all(|(&o, &v)| o == m.from_i64(v)));
            // Inner product with and without a permutation.
            if m.is_small() {
                let nd = 1 + (seed % 5) as usize;
                let dig: Vec<Vec<u64>> = (0..nd).map(|j| rand_vec(seed + 3 * j as u64, n, q)).collect();
                let kbv: Vec<Vec<u64>> = (0..nd).map(|j| rand_vec(seed + 3 * j as u64 + 1, n, q)).collect();
                let kav: Vec<Vec<u64>> = (0..nd).map(|j| rand_vec(seed + 3 * j as u64 + 2, n, q)).collect();
                let table: Vec<u32> = (0..n as u32).rev().collect();
                for t in [None, Some(&table[..])] {
                    let (mut o0, mut o1) = (vec![0u64; n], vec![0u64; n]);
                    fn refs(v: &[Vec<u64>]) -> Vec<&[u64]> {
                        v.iter().map(|x| &x[..]).collect()
                    }
                    if inner_product_small(q, &refs(&dig), &refs(&kbv), &refs(&kav), t, &mut o0, &mut o1) {
                        for c in 0..n {
                            let i = t.map_or(c, |t| t[c] as usize);
                            let s0: u128 = (0..nd).map(|j| dig[j][i] as u128 * kbv[j][c] as u128).sum();
                            let s1: u128 = (0..nd).map(|j| dig[j][i] as u128 * kav[j][c] as u128).sum();
                            prop_assert_eq!(o0[c], m.reduce_u128(s0));
                            prop_assert_eq!(o1[c], m.reduce_u128(s1));
                        }
                    }
                }
            }
        }
    }

    /// The 104-bit reduction at its extremes (all-ones limbs, many digits).
    #[test]
    fn inner_product_extremes() {
        for bits in [30u32, 45, 49] {
            let q = generate_primes(bits, 1, 16, PrimeWalk::Below, &[]).unwrap()[0];
            let m = Modulus::new(q);
            let n = 37;
            let nd = 15;
            let dig = vec![vec![q - 1; n]; nd];
            let refs: Vec<&[u64]> = dig.iter().map(|x| &x[..]).collect();
            let (mut o0, mut o1) = (vec![0u64; n], vec![0u64; n]);
            if inner_product_small(q, &refs, &refs, &refs, None, &mut o0, &mut o1) {
                let want = m.reduce_u128(nd as u128 * (q as u128 - 1) * (q as u128 - 1));
                assert!(o0.iter().chain(&o1).all(|&x| x == want));
            }
        }
    }
}
