//! `hetal compare`: HETAL's method against HE.CNNtraining's (Chiang), without and with the
//! quadratic gradient, on the same data, batches, batch order and epochs: validation accuracy
//! per epoch, test accuracy, time and operations per step, and the f64 reference of each.

use super::method::{Backend, BackendJob, plan_on, reference, train_on, with_backend};
use super::train::{BackendArgs, CliResult, DataArgs};
use hetal_nn::config::{Activation, Method, Optimizer, Products, TrainConfig, Update};
use hetal_nn::data::Splits;
use hetal_nn::plain::EpochRecord;
use hetal_nn::session::RunOptions;
use hetal_traits::counting::OpKind;
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `hetal compare`.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    /// Data.
    pub data: DataArgs,
    #[command(flatten)]
    /// Backend (as for `hetal train`).
    pub backend: BackendArgs,
    /// Learning rate of every method (HETAL: the constant step on the mean gradient; Chiang:
    /// the factor of his decaying step `γ_t`, and of `1 + γ_t` with the quadratic gradient).
    #[arg(long, default_value_t = 1.0)]
    pub lr: f64,
    /// Mini-batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Epochs (all are trained: no early stopping, the best epoch by validation loss is tested).
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Seed of the per-epoch batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// HETAL's softmax approximation.
    #[arg(long, default_value = "asoftmax")]
    pub softmax: String,
    /// Bound on |weight| (weights are scaled by a power of two into the bootstrapping range).
    #[arg(long, default_value_t = 64.0)]
    pub weight_bound: f64,
    /// The sigmoid of Chiang's runs: sigmoid-cubic, sigmoid-cheb or sigmoid-cheb:RANGE:DEGREE.
    #[arg(long, default_value = "sigmoid-cubic")]
    pub activation: String,
    /// The layout of Chiang's runs: volley-revolver or diag.
    #[arg(long, default_value = "volley-revolver")]
    pub layout: String,
    /// Validation accuracy that counts as converged, for "first epoch reaching it".
    #[arg(long, default_value_t = 0.9)]
    pub target: f64,
    /// Skip the f64 reference runs.
    #[arg(long)]
    pub no_reference: bool,
    /// Write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Hide the progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// One method's results.
#[derive(Clone, Debug, Serialize)]
pub struct MethodResult {
    /// Short label.
    pub label: String,
    /// The method.
    pub method: Method,
    /// Per-epoch history (validation accuracy and loss).
    pub history: Vec<EpochRecord>,
    /// Test accuracy of the best epoch.
    pub test_accuracy: f64,
    /// The best epoch (0-based).
    pub best_epoch: usize,
    /// Seconds per step (training time, validation passes included, over steps).
    pub time_per_step: f64,
    /// Ciphertext multiplications per step.
    pub mult_per_step: f64,
    /// Plaintext multiplications per step.
    pub cmult_per_step: f64,
    /// Rotations per step.
    pub rot_per_step: f64,
    /// Bootstraps per step.
    pub bootstraps_per_step: f64,
    /// Test accuracy of the f64 reference (same approximations), if run.
    pub reference_accuracy: Option<f64>,
    /// Max |weight difference| between the encrypted run and the reference.
    pub reference_weight_difference: Option<f64>,
}

impl MethodResult {
    /// The first epoch (1-based) whose validation accuracy reaches `target`.
    pub fn first_reaching(&self, target: f64) -> Option<usize> {
        self.history
            .iter()
            .position(|r| r.val_accuracy >= target)
            .map(|e| e + 1)
    }
}

/// The three methods compared: `(label, method)`.
pub fn methods(activation: Activation, products: Products) -> [(&'static str, Method); 3] {
    [
        ("HETAL", Method::hetal(Optimizer::Nesterov)),
        (
            "Chiang NAG",
            Method {
                activation,
                update: Update::Nag,
                products,
            },
        ),
        (
            "Chiang NAG+QG",
            Method {
                activation,
                update: Update::NagQg,
                products,
            },
        ),
    ]
}

struct Job<'a> {
    args: &'a CompareArgs,
    splits: Splits,
}

impl BackendJob for Job<'_> {
    type Output = (String, Vec<MethodResult>);

    fn run<B: Backend>(self, backend: B) -> CliResult<Self::Output> {
        let a = self.args;
        let activation = Activation::parse(&a.activation)?;
        if !activation.is_sigmoid() {
            return Err("--activation of Chiang's runs must be a sigmoid".into());
        }
        let products = Products::parse(&a.layout)?;
        let mut out = Vec::new();
        for (label, method) in methods(activation, products) {
            let cfg = TrainConfig {
                learning_rate: a.lr,
                batch_size: a.batch,
                epochs: a.epochs,
                patience: None,
                optimizer: method.update.optimizer(),
                seed: a.seed,
            };
            let plan = plan_on(
                &backend,
                &self.splits,
                &cfg,
                &method,
                a.weight_bound,
                &a.softmax,
            )?;
            if !a.quiet {
                println!("training {label} ({}) ...", method.describe());
            }
            let run = train_on(
                &backend,
                &self.splits,
                &plan,
                &RunOptions::default(),
                a.quiet,
                label,
            )?
            .ok_or("training was interrupted")?;
            let steps = run.report.steps.max(1) as f64;
            let per = |k: OpKind| run.ops.get(k) as f64 / steps;
            let (reference_accuracy, reference_weight_difference) = if a.no_reference {
                (None, None)
            } else {
                let r = reference(&self.splits, &cfg, &plan)?;
                let d = r
                    .model
                    .weights
                    .iter()
                    .zip(&run.model.weights)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max);
                (Some(r.model.accuracy(&self.splits.test)), Some(d))
            };
            out.push(MethodResult {
                label: label.to_string(),
                method,
                history: run.report.history.clone(),
                test_accuracy: run.report.test_accuracy,
                best_epoch: run.report.best_epoch,
                time_per_step: run.report.time_per_step(),
                mult_per_step: per(OpKind::Mult),
                cmult_per_step: per(OpKind::CMult),
                rot_per_step: run.ops.rotations() as f64 / steps,
                bootstraps_per_step: per(OpKind::Bootstrap) + per(OpKind::BootstrapPair),
                reference_accuracy,
                reference_weight_difference,
            });
        }
        Ok((backend.describe(), out))
    }
}

/// The comparison table: validation accuracy per epoch (validation loss in parentheses), then
/// test accuracy, time and operations per step, and convergence.
pub fn table(results: &[MethodResult], target: f64) -> String {
    use std::fmt::Write as _;
    let w = results
        .iter()
        .map(|r| r.method.describe().len())
        .max()
        .unwrap_or(0)
        .max(20);
    let mut s = String::new();
    let _ = write!(s, "{:<22}", "");
    for r in results {
        let _ = write!(s, " | {:>w$}", r.label);
    }
    let _ = writeln!(s);
    let _ = write!(s, "{:<22}", "");
    for r in results {
        let _ = write!(s, " | {:>w$}", r.method.describe());
    }
    let _ = writeln!(s);
    let epochs = results.iter().map(|r| r.history.len()).max().unwrap_or(0);
    let _ = writeln!(
        s,
        "validation accuracy % (validation loss: cross-entropy for HETAL, SLE for the sigmoids)"
    );
    for e in 0..epochs {
        let _ = write!(s, "{:<22}", format!("epoch {}", e + 1));
        for r in results {
            let cell = r
                .history
                .get(e)
                .map(|h| format!("{:.2} ({:.3})", 100.0 * h.val_accuracy, h.val_loss))
                .unwrap_or_default();
            let _ = write!(s, " | {cell:>w$}");
        }
        let _ = writeln!(s);
    }
    let row = |s: &mut String, name: &str, f: &dyn Fn(&MethodResult) -> String| {
        let _ = write!(s, "{name:<22}");
        for r in results {
            let _ = write!(s, " | {:>w$}", f(r));
        }
        let _ = writeln!(s);
    };
    row(&mut s, "test accuracy %", &|r| {
        format!(
            "{:.2} (epoch {})",
            100.0 * r.test_accuracy,
            r.best_epoch + 1
        )
    });
    row(&mut s, "f64 reference test %", &|r| {
        r.reference_accuracy
            .map(|a| format!("{:.2}", 100.0 * a))
            .unwrap_or_else(|| "-".into())
    });
    row(
        &mut s,
        &format!("first epoch >= {:.0} %", 100.0 * target),
        &|r| {
            r.first_reaching(target)
                .map(|e| e.to_string())
                .unwrap_or_else(|| "never".into())
        },
    );
    row(&mut s, "time per step (s)", &|r| {
        format!("{:.4}", r.time_per_step)
    });
    row(&mut s, "Mult / step", &|r| {
        format!("{:.0}", r.mult_per_step)
    });
    row(&mut s, "CMult / step", &|r| {
        format!("{:.0}", r.cmult_per_step)
    });
    row(&mut s, "Rot / step", &|r| format!("{:.0}", r.rot_per_step));
    row(&mut s, "bootstraps / step", &|r| {
        format!("{:.2}", r.bootstraps_per_step)
    });
    s
}

/// Which method converges faster, in words: the first to reach `target` validation accuracy
/// (ties broken by the higher accuracy at that epoch), or, if none does, the highest final
/// validation accuracy.
pub fn verdict(results: &[MethodResult], target: f64) -> String {
    let reached: Vec<(usize, f64, &MethodResult)> = results
        .iter()
        .filter_map(|r| {
            r.first_reaching(target)
                .map(|e| (e, r.history[e - 1].val_accuracy, r))
        })
        .collect();
    if let Some((e, _, r)) = reached
        .iter()
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
    {
        let others: Vec<String> = results
            .iter()
            .filter(|o| o.label != r.label)
            .map(|o| match o.first_reaching(target) {
                Some(k) => format!("{} at epoch {k}", o.label),
                None => format!("{} never", o.label),
            })
            .collect();
        format!(
            "converges fastest: {} ({}), reaching {:.0} % validation accuracy at epoch {e}; {}",
            r.label,
            r.method.describe(),
            100.0 * target,
            others.join(", ")
        )
    } else {
        let best = results.iter().max_by(|a, b| {
            let fa = a.history.last().map_or(0.0, |h| h.val_accuracy);
            let fb = b.history.last().map_or(0.0, |h| h.val_accuracy);
            fa.total_cmp(&fb)
        });
        match best {
            Some(r) => format!(
                "no method reaches {:.0} % validation accuracy; the highest final validation accuracy is {}'s",
                100.0 * target,
                r.label
            ),
            None => "no results".into(),
        }
    }
}

/// Runs `hetal compare`.
pub fn run(args: &CompareArgs) -> CliResult {
    if !(args.target > 0.0 && args.target <= 1.0) {
        return Err(format!("--target {} must be in (0, 1]", args.target).into());
    }
    let splits = args.data.load()?;
    println!(
        "data {}: {} train / {} val / {} test; batch {}, {} epochs, lr {}, batch-order seed {}",
        splits.name,
        splits.train.len(),
        splits.val.len(),
        splits.test.len(),
        args.batch,
        args.epochs,
        args.lr,
        args.seed
    );
    let (backend, results) = with_backend(
        &args.backend,
        super::train::Backend::Mock,
        Job { args, splits },
    )?;
    println!("\nbackend {backend}");
    print!("{}", table(&results, args.target));
    println!("{}", verdict(&results, args.target));
    if let Some(p) = &args.json {
        let j =
            serde_json::json!({ "backend": backend, "target": args.target, "results": results });
        std::fs::write(p, serde_json::to_string_pretty(&j)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(label: &str, accs: &[f64]) -> MethodResult {
        MethodResult {
            label: label.into(),
            method: Method::cnntraining(),
            history: accs
                .iter()
                .enumerate()
                .map(|(epoch, &a)| EpochRecord {
                    epoch,
                    train_loss: 1.0,
                    val_loss: 1.0,
                    val_accuracy: a,
                })
                .collect(),
            test_accuracy: 0.5,
            best_epoch: 0,
            time_per_step: 0.1,
            mult_per_step: 1.0,
            cmult_per_step: 1.0,
            rot_per_step: 1.0,
            bootstraps_per_step: 0.0,
            reference_accuracy: None,
            reference_weight_difference: None,
        }
    }

    #[test]
    fn verdict_picks_the_first_to_reach_the_target() {
        let rs = [
            result("A", &[0.5, 0.8, 0.95]),
            result("B", &[0.6, 0.91, 0.92]),
            result("C", &[0.4, 0.93, 0.99]),
        ];
        assert_eq!(rs[0].first_reaching(0.9), Some(3));
        let v = verdict(&rs, 0.9);
        assert!(v.starts_with("converges fastest: C"), "{v}");
        assert!(
            v.contains("A at epoch 3") && v.contains("B at epoch 2"),
            "{v}"
        );
        let none = verdict(&rs[..2], 0.99);
        assert!(
            none.contains("no method reaches") && none.contains("A's"),
            "{none}"
        );
        let t = table(&rs, 0.9);
        assert!(t.contains("epoch 3") && !t.contains("never"));
    }
}
