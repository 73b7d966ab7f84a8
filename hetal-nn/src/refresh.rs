//! Bootstrapping many sparsely filled blocks with one bootstrap.
//!
//! HETAL's unit shape puts the `c' × (d + 1)` weight matrix into `⌈(d + 1)/s1⌉` blocks of
//! `s0 × s1` slots of which only the first `c'` rows are used: with `d + 1 = 769`, `c' = 16` and
//! `(s0, s1) = (1024, 32)`, 25 blocks each 1.6 % full, and the same again for the Nesterov
//! look-ahead weights. Bootstrapping them one by one costs 50 bootstraps whenever the weights
//! run out of levels. [`refresh_packed`] instead moves the used prefixes of up to
//! `slots / stride` blocks side by side into one ciphertext (masking and scaling into the
//! bootstrapping range first: 1 level), bootstraps it once, and moves them back (one mask,
//! scaling back: 1 level of the fresh ciphertext). Packing and unpacking are binary trees of
//! rotations: `n − 1` rotations each for `n` blocks, by `±stride · 2^t`
//! ([`packing_rotations`]).

use crate::error::{Error, Result};
use hetal_linalg::approx::Refresher;
use hetal_traits::{Evaluator, EvaluatorExt, Leveled, RotStep};

/// The slot stride of packed blocks whose first `used` slots carry data: `used` rounded up to a
/// power of two.
pub fn packing_stride(used: usize) -> usize {
    used.max(1).next_power_of_two()
}

/// The rotations [`refresh_packed`] uses for up to `blocks` blocks of `used` data slots each in
/// `slots` slots: `±stride · 2^t` for `2^t < min(blocks, slots / stride)`.
pub fn packing_rotations(used: usize, blocks: usize, slots: usize) -> Vec<RotStep> {
    let stride = packing_stride(used);
    let capacity = (slots / stride).max(1);
    let n = blocks.min(capacity);
    let mut out = Vec::new();
    let mut step = 1usize;
    while step < n {
        let r = (stride * step) as i64;
        out.push(RotStep(r));
        out.push(RotStep(-r));
        step *= 2;
    }
    out
}

/// Returns `cts`, where every ciphertext with fewer than `need` levels above the floor of
/// `out_bound` is bootstrapped; those are bootstrapped together, `slots / stride` per bootstrap,
/// keeping only their first `used` slots (the others must be zero, or are zeroed). `bound`
/// bounds `|value|` in those slots. A single ciphertext in need is refreshed by
/// [`Refresher::ensure`] (no masking level).
///
/// The packed path needs one level above the bootstrapping input level on each input (for the
/// mask, which also scales into the bootstrapping range; blocks without it are refreshed one by
/// one) and leaves the outputs one level below the bootstrapping output level. Returns the
/// outputs and the number of bootstraps run.
pub fn refresh_packed<E: Evaluator>(
    ev: &E,
    rf: &Refresher,
    cts: &[E::Ciphertext],
    used: usize,
    need: u32,
    bound: f64,
    out_bound: f64,
) -> Result<(Vec<E::Ciphertext>, u64)> {
    let needs = vec![need; cts.len()];
    refresh_packed_each(ev, rf, cts, &needs, used, bound, out_bound)
}

/// [`refresh_packed`] with a level requirement per ciphertext.
pub fn refresh_packed_each<E: Evaluator>(
    ev: &E,
    rf: &Refresher,
    cts: &[E::Ciphertext],
    needs: &[u32],
    used: usize,
    bound: f64,
    out_bound: f64,
) -> Result<(Vec<E::Ciphertext>, u64)> {
    if needs.len() != cts.len() {
        return Err(Error::config(
            "one level requirement per ciphertext is needed",
        ));
    }
    let floor = rf.floor(out_bound);
    let need = needs.iter().copied().max().unwrap_or(0);
    let stale: Vec<usize> = (0..cts.len())
        .filter(|&i| cts[i].level().0 < needs[i] + floor)
        .collect();
    let mut out = cts.to_vec();
    let info = match ev.bootstrap_info() {
        Some(info) if stale.len() > 1 => info,
        _ => {
            // Nothing to pack: the plain refresher (which also reports a missing bootstrap).
            for &i in &stale {
                out[i] = rf.ensure(ev, &cts[i], needs[i], bound, out_bound)?;
            }
            return Ok((out, stale.len() as u64));
        }
    };
    if info.output_level.0 < need + floor + 1 {
        return Err(Error::config(format!(
            "packed bootstrapping leaves {} levels, {} are needed",
            info.output_level.0.saturating_sub(1),
            need + floor
        )));
    }
    let slots = ev.slots();
    let stride = packing_stride(used);
    if stride > slots {
        return Err(Error::config(format!(
            "{used} used slots do not fit in {slots}"
        )));
    }
    let capacity = slots / stride;
    let k = if bound > info.input_bound {
        (bound / info.input_bound).log2().ceil() as i32
    } else {
        0
    };
    if k > 60 {
        return Err(Error::config(format!(
            "bound {bound} is too large to bootstrap"
        )));
    }
    let prefix =
        |v: f64| -> Vec<f64> { (0..slots).map(|s| if s < used { v } else { 0.0 }).collect() };
    let down = prefix((-f64::from(k)).exp2());
    let up = prefix(f64::from(k).exp2());
    let mut count = 0;
    for chunk in stale.chunks(capacity) {
        let level = chunk
            .iter()
            .map(|&i| cts[i].level())
            .min()
            .unwrap_or(info.output_level);
        if level.0 < info.min_input_level.0 + 1 {
            // No level left for the mask: one by one.
            for &i in chunk {
                out[i] = rf.ensure(ev, &cts[i], needs[i], bound, out_bound)?;
                count += 1;
            }
            continue;
        }
        // Mask and scale down (1 level), then pack by a tree of rotations to the right.
        let mut parts: Vec<E::Ciphertext> = chunk
            .iter()
            .map(|&i| {
                let c = ev.drop_to_level(&cts[i], level)?;
                Ok(ev.mask(&c, &down)?)
            })
            .collect::<Result<_>>()?;
        let mut step = 1usize;
        while parts.len() > 1 {
            let shift = RotStep(-((stride * step) as i64));
            let mut next = Vec::with_capacity(parts.len().div_ceil(2));
            let mut it = parts.into_iter();
            while let Some(a) = it.next() {
                match it.next() {
                    Some(b) => next.push(ev.add(&a, &ev.rotate(&b, shift)?)?),
                    None => next.push(a),
                }
            }
            parts = next;
            step *= 2;
        }
        let packed = parts.pop().ok_or_else(|| Error::config("empty chunk"))?;
        let fresh = ev.bootstrap(&packed)?;
        count += 1;
        // Unpack by a tree of rotations to the left, then mask and scale back up (1 level).
        let n = chunk.len();
        let mut leaves: Vec<Option<E::Ciphertext>> = vec![None; n];
        let top = n.next_power_of_two();
        let mut stack = vec![(fresh, 0usize, top)];
        while let Some((x, base, width)) = stack.pop() {
            if width == 1 {
                leaves[base] = Some(x);
                continue;
            }
            let half = width / 2;
            if base + half < n {
                let r = ev.rotate(&x, RotStep((stride * half) as i64))?;
                stack.push((r, base + half, half));
            }
            stack.push((x, base, half));
        }
        for (&i, leaf) in chunk.iter().zip(leaves) {
            let leaf = leaf.ok_or_else(|| Error::config("unpacking lost a block"))?;
            out[i] = ev.mask(&leaf, &up)?;
        }
    }
    Ok((out, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hetal_traits::counting::{Counting, OpKind};
    use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
    use hetal_traits::{Decryptor, Encryptor, KeyGenerator, KeyRequest, Level};

    fn setup(blocks: usize, used: usize) -> (MockClient, Counting<MockEvaluator>) {
        let params = MockParams::ideal(256, 12, 40.0).with_bootstrap(3, 12, 1.0);
        let mut req =
            KeyRequest::with_rotations(packing_rotations(used, blocks, 256).iter().map(|r| r.0));
        req.bootstrapping = true;
        let mut c = MockClient::new(params, 3);
        let keys = c.generate_evaluation_keys(&req).unwrap();
        (c, Counting::new(MockEvaluator::try_new(keys).unwrap()))
    }

    #[test]
    fn blocks_are_refreshed_together_and_keep_their_values() {
        let (blocks, used) = (11, 20);
        let (mut c, ev) = setup(blocks, used);
        let rf = Refresher::new(&ev);
        let data: Vec<Vec<f64>> = (0..blocks)
            .map(|b| {
                (0..256)
                    .map(|s| {
                        if s < used {
                            (b * 7 + s) as f64 - 40.0
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        let cts: Vec<_> = data
            .iter()
            .enumerate()
            .map(|(b, v)| c.encrypt_real(v, Level(4 + (b % 3) as u32)).unwrap())
            .collect();
        // Blocks at level 4 and 5 need 3 levels above the floor (3 + 1 for |x| > 1): refreshed;
        // those at level 6 (b % 3 == 2) are not.
        let (out, boots) = refresh_packed(&ev, &rf, &cts, used, 2, 64.0, 64.0).unwrap();
        assert_eq!(ev.snapshot().get(OpKind::Bootstrap), boots);
        // 256 / 32 = 8 blocks per bootstrap: 7 stale blocks -> 1 bootstrap.
        assert_eq!(boots, 1);
        for (b, (o, want)) in out.iter().zip(&data).enumerate() {
            let got = c.decrypt_real(o).unwrap();
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-9, "block {b}: {g} vs {w}");
            }
            if b % 3 == 2 {
                assert_eq!(o.level(), Level(6));
            } else {
                assert_eq!(o.level(), Level(11));
            }
        }
    }

    #[test]
    fn more_blocks_than_fit_take_several_bootstraps_and_junk_is_zeroed() {
        let (blocks, used) = (20, 30);
        let (mut c, ev) = setup(blocks, used);
        let rf = Refresher::new(&ev);
        let cts: Vec<_> = (0..blocks)
            .map(|b| {
                let v: Vec<f64> = (0..256)
                    .map(|s| if s < used { 0.5 } else { 0.25 * b as f64 })
                    .collect();
                c.encrypt_real(&v, Level(4)).unwrap()
            })
            .collect();
        let (out, boots) = refresh_packed(&ev, &rf, &cts, used, 2, 1.0, 1.0).unwrap();
        assert_eq!(boots, 3); // 8 per bootstrap
        // At the bootstrapping input level there is no level for the mask: one by one.
        let low: Vec<_> = cts[..3]
            .iter()
            .map(|x| ev.drop_to_level(x, Level(3)).unwrap())
            .collect();
        let (_, one_by_one) = refresh_packed(&ev, &rf, &low, used, 2, 1.0, 1.0).unwrap();
        assert_eq!(one_by_one, 3);
        for o in &out {
            let got = c.decrypt_real(o).unwrap();
            assert!(got[..used].iter().all(|g| (g - 0.5).abs() < 1e-9));
            assert!(got[used..].iter().all(|g| g.abs() < 1e-9));
        }
    }

    #[test]
    fn without_bootstrapping_the_refresher_error_is_returned() {
        let params = MockParams::ideal(256, 6, 40.0);
        let mut c = MockClient::new(params, 3);
        let keys = c.generate_evaluation_keys(&KeyRequest::default()).unwrap();
        let ev = MockEvaluator::try_new(keys).unwrap();
        let rf = Refresher::new(&ev);
        let cts = vec![c.encrypt_real(&[1.0], Level(1)).unwrap(); 3];
        assert!(refresh_packed(&ev, &rf, &cts, 4, 3, 1.0, 1.0).is_err());
        // Enough levels: returned unchanged.
        let (out, boots) = refresh_packed(&ev, &rf, &cts, 4, 1, 1.0, 1.0).unwrap();
        assert_eq!((out.len(), boots), (3, 0));
    }
}
