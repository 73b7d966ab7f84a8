//! Reports in the manner of HETAL's `run.py`, and a hand-written SVG plot of the loss curves.

use crate::plain::{ClassReport, EpochRecord};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::time::Duration;

/// Timings and results of one training run (encrypted or plaintext).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// What was trained (data set, backend).
    pub title: String,
    /// Total training time (server side, including validation forward passes).
    pub train_time: Duration,
    /// Number of optimiser steps.
    pub steps: u64,
    /// Time spent in DiagABT (forward matrix products, training and validation).
    pub abt_time: Duration,
    /// Time spent in DiagATB (gradient matrix products).
    pub atb_time: Duration,
    /// Time spent in the softmax approximation.
    pub softmax_time: Duration,
    /// Number of bootstraps outside the softmax (weights, `P − Y`).
    pub bootstraps: u64,
    /// Time of the bootstraps outside the softmax.
    #[serde(default)]
    pub bootstrap_time: Duration,
    /// The best epoch (0-based).
    pub best_epoch: usize,
    /// Per-epoch losses and validation accuracy.
    pub history: Vec<EpochRecord>,
    /// Test accuracy of the best model.
    pub test_accuracy: f64,
    /// Per-class report on the test set.
    pub class_report: ClassReport,
}

impl TrainReport {
    /// Seconds per step (`train_time / steps`).
    pub fn time_per_step(&self) -> f64 {
        self.train_time.as_secs_f64() / self.steps.max(1) as f64
    }

    /// The share of the training time spent in the two matrix products.
    pub fn matmul_share(&self) -> f64 {
        (self.abt_time + self.atb_time).as_secs_f64() / self.train_time.as_secs_f64().max(1e-12)
    }
}

impl std::fmt::Display for TrainReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "== {} ==", self.title)?;
        writeln!(
            f,
            "total training time: {:.3} s ({} steps)",
            self.train_time.as_secs_f64(),
            self.steps
        )?;
        writeln!(f, "time per step:       {:.4} s", self.time_per_step())?;
        writeln!(
            f,
            "DiagABT time:        {:.3} s",
            self.abt_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "DiagATB time:        {:.3} s",
            self.atb_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "softmax time:        {:.3} s",
            self.softmax_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "matmul share:        {:.1} %",
            100.0 * self.matmul_share()
        )?;
        writeln!(
            f,
            "bootstraps outside the softmax: {} ({:.3} s)",
            self.bootstraps,
            self.bootstrap_time.as_secs_f64()
        )?;
        let rest = self.train_time.saturating_sub(
            self.abt_time + self.atb_time + self.softmax_time + self.bootstrap_time,
        );
        writeln!(
            f,
            "rest (tilings, P - Y, updates): {:.3} s",
            rest.as_secs_f64()
        )?;
        writeln!(
            f,
            "best epoch:          {} of {}",
            self.best_epoch + 1,
            self.history.len()
        )?;
        writeln!(
            f,
            "test accuracy:       {:.2} %",
            100.0 * self.test_accuracy
        )?;
        writeln!(
            f,
            "{:>6} {:>11} {:>11} {:>9}",
            "epoch", "train loss", "val loss", "val acc"
        )?;
        for r in &self.history {
            writeln!(
                f,
                "{:>6} {:>11.5} {:>11.5} {:>8.2}%",
                r.epoch + 1,
                r.train_loss,
                r.val_loss,
                100.0 * r.val_accuracy
            )?;
        }
        write!(f, "{}", self.class_report)
    }
}

/// An SVG line plot of the training and validation loss per epoch, with the best epoch marked.
/// Several runs (e.g. encrypted and plaintext) can be drawn together: each is `(label, history)`.
pub fn loss_plot_svg(runs: &[(&str, &[EpochRecord])], best_epoch: Option<usize>) -> String {
    const W: f64 = 640.0;
    const H: f64 = 400.0;
    const L: f64 = 60.0;
    const R: f64 = 160.0;
    const T: f64 = 30.0;
    const B: f64 = 50.0;
    let epochs = runs.iter().map(|(_, h)| h.len()).max().unwrap_or(0).max(1);
    let values: Vec<f64> = runs
        .iter()
        .flat_map(|(_, h)| h.iter().flat_map(|r| [r.train_loss, r.val_loss]))
        .filter(|v| v.is_finite())
        .collect();
    let ymax = values.iter().copied().fold(0.0f64, f64::max).max(1e-6) * 1.05;
    let px = |e: usize| {
        L + (W - L - R)
            * if epochs > 1 {
                e as f64 / (epochs - 1) as f64
            } else {
                0.5
            }
    };
    let py = |v: f64| T + (H - T - B) * (1.0 - (v / ymax).clamp(0.0, 1.0));
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="18" text-anchor="middle" font-size="14">loss per epoch</text>"#,
        (W - R + L) / 2.0
    );
    // Axes, ticks and grid.
    let _ = writeln!(
        s,
        r#"<line x1="{L}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#,
        H - B,
        W - R,
        H - B
    );
    let _ = writeln!(
        s,
        r#"<line x1="{L}" y1="{T}" x2="{L}" y2="{}" stroke="black"/>"#,
        H - B
    );
    for i in 0..=4 {
        let v = ymax * i as f64 / 4.0;
        let y = py(v);
        let _ = writeln!(
            s,
            r##"<line x1="{L}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/>"##,
            W - R
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{v:.3}</text>"#,
            L - 5.0,
            y + 4.0
        );
    }
    let step = epochs.div_ceil(10).max(1);
    for e in (0..epochs).step_by(step) {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            px(e),
            H - B + 16.0,
            e + 1
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">epoch</text>"#,
        (W - R + L) / 2.0,
        H - 10.0
    );
    if let Some(b) = best_epoch.filter(|&b| b < epochs) {
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" y1="{T}" x2="{:.1}" y2="{}" stroke="gray" stroke-dasharray="4 3"/>"#,
            px(b),
            px(b),
            H - B
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" fill="gray" text-anchor="middle">best</text>"#,
            px(b),
            T - 2.0
        );
    }
    let colors = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    ];
    let mut legend_y = T + 10.0;
    let mut k = 0;
    for (label, hist) in runs {
        for (which, dash) in [("train", ""), ("val", r#" stroke-dasharray="6 3""#)] {
            let color = colors[k % colors.len()];
            k += 1;
            let pts: Vec<String> = hist
                .iter()
                .map(|r| {
                    (
                        r.epoch,
                        if which == "train" {
                            r.train_loss
                        } else {
                            r.val_loss
                        },
                    )
                })
                .filter(|(_, v)| v.is_finite())
                .map(|(e, v)| format!("{:.1},{:.1}", px(e), py(v)))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{}"/>"#,
                pts.join(" ")
            );
            for p in &pts {
                let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(s, r#"<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>"#);
            }
            let lx = W - R + 10.0;
            let _ = writeln!(
                s,
                r#"<line x1="{lx}" y1="{legend_y}" x2="{}" y2="{legend_y}" stroke="{color}" stroke-width="2"{dash}/>"#,
                lx + 20.0
            );
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}">{} {which}</text>"#,
                lx + 25.0,
                legend_y + 4.0,
                xml_escape(label)
            );
            legend_y += 18.0;
        }
    }
    s.push_str("</svg>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_one_polyline_per_curve() {
        let h: Vec<EpochRecord> = (0..4)
            .map(|e| EpochRecord {
                epoch: e,
                train_loss: 1.0 / (e + 1) as f64,
                val_loss: 1.2 / (e + 1) as f64,
                val_accuracy: 0.5,
            })
            .collect();
        let svg = loss_plot_svg(&[("encrypted", &h), ("plain <ref>", &h)], Some(3));
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert_eq!(svg.matches("<circle").count(), 16);
        assert!(svg.contains("plain &lt;ref&gt; val"));
    }
}
