//! A new `A B^T` algorithm outside hetal-linalg, checked by the harness and compared with DiagABT
//! (`cargo run --release -p hetal-linalg --example broadcast_abt`; `tests/matmul_example.rs`
//! runs it under `cargo test`). RowBroadcast, `B` row-tiled: per class `k`, mask the rows `≡ k`
//! (mod c) and fill the others (`log c` rotations); multiply with `A`, sum each row into column
//! 0, mask it and rotate it right into column `k`. Depth 2 on `A`, 3 on `B`.

use hetal_linalg::matmul::{AbtAlgorithm, AbtProduct, MatmulDims, OpTally, harness};
use hetal_linalg::packed::{Layout, PackedMatrix, UnitShape};
use hetal_linalg::{Error, Result};
use hetal_traits::{Evaluator, EvaluatorExt, KeyRequest, Level, RotStep};

/// The new algorithm.
pub struct RowBroadcast;

fn log2(x: usize) -> u64 {
    u64::from(x.trailing_zeros())
}

impl AbtProduct for RowBroadcast {
    fn name(&self) -> String {
        "row_broadcast".into()
    }
    fn input_layouts(&self) -> (Layout, Layout) {
        (Layout::Plain, Layout::RowTiled)
    }
    fn output_layout(&self) -> Layout {
        Layout::Plain
    }
    fn depths(&self, _: &MatmulDims, _: Level, _: Level) -> (u32, u32) {
        (2, 3)
    }
    fn required_keys(&self, d: &MatmulDims) -> Result<KeyRequest> {
        let (s0, s1, c) = (d.shape.s0, d.shape.s1, d.c);
        if !c.is_power_of_two() || !s0.is_multiple_of(c) || c > s1 {
            return Err(Error::shape(
                "c must be a power of two dividing s0, at most s1",
            ));
        }
        let fill = (0..log2(c)).map(|j| (s1 << j) as i64);
        let sum = (0..log2(s1)).map(|j| 1i64 << j);
        let place = (1..c as i64).map(|k| -k);
        Ok(KeyRequest::with_rotations(fill.chain(sum).chain(place)))
    }
    fn expected_counts(&self, d: &MatmulDims, _: Level, _: Level) -> OpTally {
        let (na, nb, c) = (d.blocks_a(), d.blocks_b(), d.c as u64);
        OpTally {
            cmult: c * (nb + na),
            mult: c * na * nb,
            rot: c * nb * log2(d.c) + c * na * log2(d.shape.s1) + (c - 1) * na,
            conj: 0,
        }
    }
    fn multiply<E: Evaluator>(
        &self,
        ev: &E,
        a: &PackedMatrix<E::Ciphertext>,
        b: &PackedMatrix<E::Ciphertext>,
    ) -> Result<PackedMatrix<E::Ciphertext>> {
        let (la, lb) = (a.level(), b.level());
        let dims = MatmulDims::new(a.rows(), a.cols(), b.rows(), a.shape())?;
        if self.output_level(&dims, la, lb).is_none() {
            return Err(Error::DepthExhausted {
                needed: 3,
                available: la.0.min(lb.0),
            });
        }
        let UnitShape { s0, s1 } = a.shape();
        let (c, slots) = (b.rows(), s0 * s1);
        let rows_mask = |k: usize| -> Vec<f64> {
            (0..slots)
                .map(|t| f64::from(u8::from((t / s1) % c == k)))
                .collect()
        };
        let col0: Vec<f64> = (0..slots)
            .map(|t| f64::from(u8::from(t % s1 == 0)))
            .collect();
        // Every row of bk[k][q] holds row k of B's block column q.
        let mut bk = Vec::with_capacity(c);
        for k in 0..c {
            let mut col = Vec::with_capacity(b.block_cols());
            for q in 0..b.block_cols() {
                let mut x = ev.mask(b.block(0, q), &rows_mask(k))?;
                for j in 0..log2(c) {
                    x = ev.add(&x, &ev.rotate(&x, RotStep((s1 << j) as i64))?)?;
                }
                col.push(x);
            }
            bk.push(col);
        }
        let mut blocks = Vec::with_capacity(a.block_rows());
        for p in 0..a.block_rows() {
            let mut acc: Option<E::Ciphertext> = None;
            for (k, col) in bk.iter().enumerate() {
                let mut x = ev.mul(a.block(p, 0), &col[0])?;
                for (q, bq) in col.iter().enumerate().skip(1) {
                    x = ev.add(&x, &ev.mul(a.block(p, q), bq)?)?;
                }
                let mut x = ev.rescale(&x)?;
                for j in 0..log2(s1) {
                    x = ev.add(&x, &ev.rotate(&x, RotStep(1 << j))?)?;
                }
                // Into column k (k = 0: the identity, free).
                let x = ev.rotate(&ev.mask(&x, &col0)?, RotStep(-(k as i64)))?;
                acc = Some(match acc {
                    None => x,
                    Some(s) => ev.add(&s, &x)?,
                });
            }
            blocks.push(acc.ok_or_else(|| Error::shape("no classes"))?);
        }
        PackedMatrix::from_blocks(a.rows(), c, a.shape(), Layout::Plain, blocks)
    }
}

/// Runs the harness on RowBroadcast and compares it with DiagABT on a few shapes; returns the
/// harness report and the rows of the comparison (new, DiagABT).
pub fn run() -> Result<(harness::HarnessReport, Vec<[harness::Measurement; 2]>)> {
    let report = harness::check_abt(&RowBroadcast, &harness::HarnessConfig::default())?;
    println!(
        "{}: {} cases checked, {} refused as too deep, max error {:.1e}",
        report.name, report.checked, report.refused, report.max_error
    );
    let mut rows = Vec::new();
    for (a, b, c) in [(64, 64, 4), (128, 100, 8), (200, 300, 4)] {
        let dims = MatmulDims::new(a, b, c, UnitShape::new(64, 64)?)?;
        let top = Level(6);
        let new = harness::measure_abt(&RowBroadcast, &dims, 6, top, top, 3)?;
        let diag = harness::measure_abt(&AbtAlgorithm::DiagAbt, &dims, 6, top, top, 3)?;
        for m in [&new, &diag] {
            println!(
                "{dims} {:>14}: CMult/Mult/Rot {:>12} conj {:>3}, {} -> {}, {:>2} keys, err {:.1e}",
                m.name,
                m.counts.to_string(),
                m.counts.conj,
                top,
                m.output_level,
                m.rotation_keys,
                m.max_error
            );
        }
        rows.push([new, diag]);
    }
    Ok((report, rows))
}

#[allow(dead_code)]
fn main() -> Result<()> {
    run().map(|_| ())
}
