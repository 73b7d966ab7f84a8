//! `hetal presets`: every CKKS preset of hetal-ckks's registry with what a user needs to choose
//! one (N, slots, levels after bootstrapping, scale, log QP and its bound, secret, security rule,
//! declared precision, key-set memory), computed from the parameters alone: no key is generated.
//! Also the value parser the other commands use for `--preset`.

use hetal_ckks::presets::{self, Preset, PresetInfo};

/// Arguments of `hetal presets`.
#[derive(clap::Args, Debug)]
pub struct PresetsArgs {
    /// Only these presets (names or aliases, comma separated); default: all.
    #[arg(long, value_delimiter = ',', value_parser = preset)]
    pub only: Vec<&'static Preset>,
    /// Print JSON lines instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Value parser for `--preset` arguments: a registry entry by name or alias (the error lists the
/// known names).
pub fn preset(s: &str) -> Result<&'static Preset, String> {
    presets::by_name(s).map_err(|e| e.to_string())
}

fn gib(b: u64) -> f64 {
    b as f64 / (1u64 << 30) as f64
}

fn secret(i: &PresetInfo) -> String {
    let main = if i.secret.dense {
        format!("dense h={}", i.secret.hamming_weight)
    } else {
        format!("h={}", i.secret.hamming_weight)
    };
    match i.secret.encapsulation_weight {
        Some(e) => format!("{main}, ModRaise h'={e}"),
        None => main,
    }
}

/// Runs the command.
pub fn run(args: &PresetsArgs) -> Result<(), Box<dyn std::error::Error>> {
    let list: Vec<&Preset> = if args.only.is_empty() {
        presets::REGISTRY.iter().collect()
    } else {
        args.only.clone()
    };
    if !args.json {
        println!(
            "{:<28} {:>3} {:>6} {:>7} {:>4} {:>6} {:>5} {:>14} {:>4} {:<31} {:<48} {:>5} {:>9} {:>10}  use",
            "preset",
            "N",
            "slots",
            "levels",
            "L",
            "scale",
            "logQP",
            "(bound)",
            "dnum",
            "secret",
            "security",
            "prec",
            "key MiB",
            "keys GiB"
        );
    }
    for p in list {
        let i = p.info()?;
        if args.json {
            println!(
                "{}",
                serde_json::json!({
                    "name": i.name, "bootstraps": i.bootstraps, "log_n": i.log_n,
                    "slots": i.slots, "max_level": i.max_level, "output_level": i.output_level,
                    "bootstrap_depth": i.bootstrap_depth, "log_scale": i.log_scale,
                    "log_qp": i.log_qp, "security_bound": i.security_bound, "dnum": i.dnum,
                    "hamming_weight": i.secret.hamming_weight,
                    "encapsulation_weight": i.secret.encapsulation_weight,
                    "security": format!("{:?}", i.security), "precision_bits": i.precision_bits,
                    "bytes_per_key": i.bytes_per_key, "key_set_bytes": i.key_set_bytes,
                })
            );
            continue;
        }
        let levels = match i.bootstrap_depth {
            Some(d) => format!("{} (+{d})", i.output_level),
            None => i.output_level.to_string(),
        };
        let bound = i
            .security_bound
            .map_or(String::new(), |b| format!("(<= {b})"));
        let prec = format!(
            "{:.0}{}",
            i.precision_bits,
            if i.bootstraps { "b" } else { "m" }
        );
        println!(
            "{:<28} {:>3} {:>6} {:>7} {:>4} {:>6} {:>5.0} {:>14} {:>4} {:<31} {:<48} {:>5} {:>9.1} {:>10.2}  {}",
            i.name,
            format!("2^{}", i.log_n),
            i.slots,
            levels,
            i.max_level,
            format!("2^{:.0}", i.log_working_scale),
            i.log_qp,
            bound,
            i.dnum,
            secret(&i),
            i.security.rule(),
            prec,
            i.bytes_per_key as f64 / (1u64 << 20) as f64,
            gib(i.key_set_bytes),
            i.summary
        );
    }
    if !args.json {
        println!(
            "\nlevels: the level work starts at (after a bootstrap, with the circuit's depth in \
             parentheses); L: the top level; scale: the working scale there; prec: declared \
             precision in bits (b: minimum after one bootstrap, m: mean over slots of a fresh or \
             once-multiplied ciphertext); key MiB: one switching key; keys GiB: the server's key \
             set (leveled: the relinearisation key, plus one key per rotation; bootstrapping: \
             bootstrapping keys, encoded DFT matrices and working memory). Names are \
             case-insensitive, `_` works for `-`."
        );
    }
    Ok(())
}
