//! The named parameter sets of hetal-ckks, as data: one registry ([`REGISTRY`]) with one
//! kebab-case name per preset, looked up by [`by_name`], each entry describing itself
//! ([`Preset::info`]: N, slots, levels, output level after bootstrapping, scale, log QP, secret,
//! security rule, declared precision, key-set memory) without generating keys or building an
//! evaluator.
//!
//! | name | kind | N | slots | levels | security |
//! |---|---|---|---|---|---|
//! | `insecure-n10`, `insecure-n11`, `insecure-n12` | leveled | 2^10..2^12 | N/2 | 3, 5, 6 | none (tests) |
//! | `n14-l7`, `n15-l16`, `n16-l12`, `n16-l20` | leveled | 2^14..2^16 | N/2 | 7, 16, 12, 20 | 128-bit (HE standard) |
//! | `insecure-boot-n12`, `insecure-boot-n12-sparse` | bootstrapping | 2^12 | 2048, 128 | 2 after bootstrap | none (tests) |
//! | `insecure-boot-n12-l9`, `insecure-boot-n12-sparse-l9` | bootstrapping | 2^12 | 2048, 128 | 9 after bootstrap | none (tests) |
//! | `insecure-boot-n12-deep` | bootstrapping | 2^12 | 2048 | 14 after bootstrap (scale 2^36) | none (tests) |
//! | `boot-n16`, `boot-n16-dense` | bootstrapping | 2^16 | 32768 | 9 after bootstrap | 128-bit (sparse rule, HE standard) |
//! | `boot-n16-deep` | bootstrapping | 2^16 | 32768 | 14 after bootstrap (scale 2^36) | 128-bit (sparse rule) |
//!
//! Lookup ignores case and treats `_` as `-`, so the older spellings `N16_L12`, `BOOT_N16` still
//! work; the older test names (`INSECURE_TEST_N12`, …) are aliases. `hetal presets` prints [`Preset::info`] of every
//! entry.
//!
//! The leveled literals are the functions below ([`n16_l12`], …); the bootstrappable ones come
//! from [`crate::bootstrap::presets`] (and two test variants assembled here with more user
//! levels).

use crate::bootstrap::{
    self, BootstrapPreset, MemoryEstimate, bootstrappable_literal, dense_secret_weight,
};
use crate::error::ParamsError;
use crate::params::{CkksParams, Moduli, ParamsLiteral, Security};
use hetal_traits::KeyRequest;

/// What an entry builds.
#[derive(Clone, Copy, Debug)]
pub enum PresetKind {
    /// A leveled parameter set (no bootstrapping).
    Leveled(fn() -> ParamsLiteral),
    /// A bootstrappable parameter set (leveled literal plus bootstrapping configuration).
    Bootstrapping(fn() -> Result<BootstrapPreset, ParamsError>),
}

/// One named preset of the registry.
#[derive(Clone, Copy, Debug)]
pub struct Preset {
    /// The name (kebab-case), the one spelling commands print.
    pub name: &'static str,
    /// Older spellings still accepted by [`by_name`] (besides the name itself in upper case or
    /// with `_`, which lookup accepts anyway).
    pub aliases: &'static [&'static str],
    /// What it is for, in a few words.
    pub summary: &'static str,
    /// Declared precision in bits. Leveled presets: the mean `−log2` error over the slots of a
    /// fresh ciphertext and after one multiply-and-rescale of values in the unit disc
    /// (`log Δ − (log N + 2)`, checked by the tests on the insecure presets). Bootstrapping
    /// presets: the minimum over the slots after one bootstrap of values in `[−1, 1]` (equal to
    /// the configuration's [`crate::bootstrap::BootstrapConfig::precision_bits`]).
    pub precision_bits: f64,
    /// What it builds.
    pub kind: PresetKind,
}

/// The secret-key distribution of a preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretInfo {
    /// Hamming weight of the ternary main secret.
    pub hamming_weight: usize,
    /// Whether the weight is the dense `2N/3` (the distribution of the security tables).
    pub dense: bool,
    /// The weight of the ephemeral sparse secret ModRaise runs under (sparse-secret
    /// encapsulation), if the preset bootstraps that way.
    pub encapsulation_weight: Option<usize>,
}

/// Everything a user needs to choose a preset, computed without keys or an evaluator.
#[derive(Clone, Debug, PartialEq)]
pub struct PresetInfo {
    /// The registry name.
    pub name: &'static str,
    /// The summary.
    pub summary: &'static str,
    /// Whether the preset bootstraps.
    pub bootstraps: bool,
    /// log2 of the ring degree.
    pub log_n: u32,
    /// The slot count.
    pub slots: usize,
    /// The top level `L` of the chain.
    pub max_level: u32,
    /// The level fresh work starts at: after a bootstrap for bootstrapping presets (`L` minus
    /// the circuit's depth), `L` for leveled ones.
    pub output_level: u32,
    /// The bootstrapping circuit's depth, if it bootstraps.
    pub bootstrap_depth: Option<u32>,
    /// log2 of the default scale Δ_L.
    pub log_scale: f64,
    /// log2 of the canonical scale at the output level (the working scale after a bootstrap).
    pub log_working_scale: f64,
    /// `log2(Q_L · P)` of the resolved primes.
    pub log_qp: f64,
    /// Key-switching digits.
    pub dnum: usize,
    /// The secret distribution.
    pub secret: SecretInfo,
    /// The security rule it satisfies.
    pub security: Security,
    /// The rule's bound on `log2(QP)`, if it has one.
    pub security_bound: Option<u32>,
    /// The declared precision (see [`Preset::precision_bits`]).
    pub precision_bits: f64,
    /// Bytes of one key-switching key (every digit, both parts, all primes of `Q·P`).
    pub bytes_per_key: u64,
    /// Bytes of the key set the server holds: the relinearisation key for leveled presets (each
    /// rotation adds [`PresetInfo::bytes_per_key`]); for bootstrapping presets the bootstrapping
    /// key set with its encoded DFT matrices and working memory
    /// ([`crate::bootstrap::estimate_memory`] with no extra rotations).
    pub key_set_bytes: u64,
    /// The bootstrapping memory estimate in detail, if it bootstraps.
    pub bootstrap_memory: Option<MemoryEstimate>,
}

/// Every named preset, in display order.
pub const REGISTRY: &[Preset] = &[
    Preset {
        name: "insecure-n10",
        aliases: &["INSECURE_TEST_N10"],
        summary: "fast tests",
        precision_bits: 28.0,
        kind: PresetKind::Leveled(insecure_test_n10),
    },
    Preset {
        name: "insecure-n11",
        aliases: &["INSECURE_TEST_N11"],
        summary: "tests",
        precision_bits: 27.0,
        kind: PresetKind::Leveled(insecure_test_n11),
    },
    Preset {
        name: "insecure-n12",
        aliases: &["INSECURE_TEST_N12"],
        summary: "tests, one prime per digit",
        precision_bits: 26.0,
        kind: PresetKind::Leveled(insecure_test_n12),
    },
    Preset {
        name: "n14-l7",
        aliases: &[],
        summary: "benchmarks at N = 2^14",
        precision_bits: 24.0,
        kind: PresetKind::Leveled(n14_l7),
    },
    Preset {
        name: "n15-l16",
        aliases: &[],
        summary: "deep leveled circuits at N = 2^15",
        precision_bits: 23.0,
        kind: PresetKind::Leveled(n15_l16),
    },
    Preset {
        name: "n16-l12",
        aliases: &[],
        summary: "HETAL's FGb setting (13 limbs), matmul benchmarks",
        precision_bits: 22.0,
        kind: PresetKind::Leveled(n16_l12),
    },
    Preset {
        name: "n16-l20",
        aliases: &[],
        summary: "OpenFHE peer benchmark (21 limbs, dnum 3)",
        precision_bits: 22.0,
        kind: PresetKind::Leveled(n16_l20),
    },
    Preset {
        name: "insecure-boot-n12",
        aliases: &["INSECURE_TEST_BOOT_N12"],
        summary: "bootstrapping tests",
        precision_bits: 18.0,
        kind: PresetKind::Bootstrapping(insecure_boot_n12),
    },
    Preset {
        name: "insecure-boot-n12-sparse",
        aliases: &["INSECURE_TEST_BOOT_N12_SPARSE"],
        summary: "bootstrapping tests, sparse packing",
        precision_bits: 17.0,
        kind: PresetKind::Bootstrapping(insecure_boot_n12_sparse),
    },
    Preset {
        name: "insecure-boot-n12-l9",
        aliases: &[],
        summary: "training tests (9 levels like boot-n16)",
        precision_bits: 18.0,
        kind: PresetKind::Bootstrapping(insecure_boot_n12_l9),
    },
    Preset {
        name: "insecure-boot-n12-sparse-l9",
        aliases: &["INSECURE_SOFTMAX_N12"],
        summary: "softmax checks on CKKS (128 slots, 9 levels)",
        precision_bits: 17.0,
        kind: PresetKind::Bootstrapping(insecure_boot_n12_sparse_l9),
    },
    Preset {
        name: "insecure-boot-n12-deep",
        aliases: &["INSECURE_TEST_BOOT_N12_DEEP"],
        summary: "tests of boot-n16-deep's chain (14 levels at 2^36)",
        precision_bits: 18.0,
        kind: PresetKind::Bootstrapping(insecure_boot_n12_deep),
    },
    Preset {
        name: "boot-n16",
        aliases: &[],
        summary: "training (default): sparse secret h = 192",
        precision_bits: 22.0,
        kind: PresetKind::Bootstrapping(boot_n16),
    },
    Preset {
        name: "boot-n16-dense",
        aliases: &[],
        summary: "training with a dense secret (HE standard)",
        precision_bits: 18.0,
        kind: PresetKind::Bootstrapping(boot_n16_dense),
    },
    Preset {
        name: "boot-n16-deep",
        aliases: &[],
        summary: "deep training: 14 levels per bootstrap at scale 2^36, h = 192, larger keys",
        precision_bits: 19.0,
        kind: PresetKind::Bootstrapping(boot_n16_deep),
    },
];

fn normalize(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace('_', "-")
}

fn names(filter: impl Fn(&Preset) -> bool) -> String {
    REGISTRY
        .iter()
        .filter(|p| filter(p))
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The preset called `name` or one of its aliases (case-insensitive, `_` and `-` alike); the
/// error lists every known name.
pub fn by_name(name: &str) -> Result<&'static Preset, ParamsError> {
    let n = normalize(name);
    REGISTRY
        .iter()
        .find(|p| p.name == n || p.aliases.iter().any(|a| normalize(a) == n))
        .ok_or_else(|| ParamsError::UnknownPreset {
            name: name.to_string(),
            known: names(|_| true),
        })
}

/// The bootstrappable preset called `name` (see [`by_name`]); a leveled preset is an error
/// listing the bootstrappable ones.
pub fn bootstrappable(name: &str) -> Result<BootstrapPreset, ParamsError> {
    by_name(name)?.bootstrap_preset()
}

/// The literals of the leveled presets, in registry order.
pub fn all() -> Vec<ParamsLiteral> {
    REGISTRY
        .iter()
        .filter_map(|p| match p.kind {
            PresetKind::Leveled(_) => p.literal().ok(),
            PresetKind::Bootstrapping(_) => None,
        })
        .collect()
}

/// The level a bootstrappable preset's bootstrap outputs: the top level minus the circuit's
/// depth, read from the literal (no primes, keys or evaluator needed).
pub fn bootstrap_output_level(preset: &BootstrapPreset) -> u32 {
    top_level(&preset.params).saturating_sub(preset.config.circuit.depth())
}

fn top_level(lit: &ParamsLiteral) -> u32 {
    let q = match &lit.moduli {
        Moduli::Bits { q, .. } => q.len(),
        Moduli::Primes { q, .. } => q.len(),
    };
    q.saturating_sub(1) as u32
}

impl Preset {
    /// Whether the preset bootstraps.
    pub fn bootstraps(&self) -> bool {
        matches!(self.kind, PresetKind::Bootstrapping(_))
    }

    /// The bootstrappable preset (its literal named after this entry), or `None` for a leveled
    /// one.
    pub fn bootstrap(&self) -> Option<Result<BootstrapPreset, ParamsError>> {
        match self.kind {
            PresetKind::Leveled(_) => None,
            PresetKind::Bootstrapping(f) => Some(f().map(|mut b| {
                b.params.name = self.name.to_string();
                b
            })),
        }
    }

    /// The bootstrappable preset, or [`ParamsError::NotBootstrappable`] for a leveled one.
    pub fn bootstrap_preset(&self) -> Result<BootstrapPreset, ParamsError> {
        self.bootstrap().unwrap_or_else(|| {
            Err(ParamsError::NotBootstrappable {
                name: self.name.to_string(),
                known: names(Preset::bootstraps),
            })
        })
    }

    /// The leveled literal (for bootstrapping presets: the chain without the configuration),
    /// named after this entry.
    pub fn literal(&self) -> Result<ParamsLiteral, ParamsError> {
        match self.kind {
            PresetKind::Leveled(f) => {
                let mut l = f();
                l.name = self.name.to_string();
                Ok(l)
            }
            PresetKind::Bootstrapping(_) => Ok(self.bootstrap_preset()?.params),
        }
    }

    /// The validated parameters (primes, NTT plans, constants; no keys).
    pub fn params(&self) -> Result<CkksParams, ParamsError> {
        CkksParams::build(&self.literal()?)
    }

    /// The level fresh work starts at: the bootstrap's output level for bootstrapping presets
    /// ([`bootstrap_output_level`]), the top level for leveled ones. Cheap: no primes are
    /// checked.
    pub fn output_level(&self) -> Result<u32, ParamsError> {
        Ok(match self.bootstrap() {
            Some(b) => bootstrap_output_level(&b?),
            None => top_level(&self.literal()?),
        })
    }

    /// The preset's description: builds the parameters (primes and NTT plans, well under a
    /// second even at N = 2^16) and the bootstrapping memory estimate, never keys or an
    /// evaluator.
    pub fn info(&self) -> Result<PresetInfo, ParamsError> {
        let boot = self.bootstrap().transpose()?;
        let lit = match &boot {
            Some(b) => b.params.clone(),
            None => self.literal()?,
        };
        let p = CkksParams::build(&lit)?;
        let l = p.max_level() as u32;
        let bytes_per_key = (p.digits.len() * 2 * p.moduli.len() * p.n * 8) as u64;
        let (output_level, depth, memory, encapsulation) = match &boot {
            Some(b) => {
                let est = bootstrap::estimate_memory(&p, &b.config, &KeyRequest::default())
                    .map_err(|e| ParamsError::Preset {
                        name: self.name.to_string(),
                        reason: e.to_string(),
                    })?;
                (
                    bootstrap_output_level(b),
                    Some(b.config.circuit.depth()),
                    Some(est),
                    b.config.sparse_secret_weight,
                )
            }
            None => (l, None, None, None),
        };
        Ok(PresetInfo {
            name: self.name,
            summary: self.summary,
            bootstraps: boot.is_some(),
            log_n: lit.log_n,
            slots: p.slots,
            max_level: l,
            output_level,
            bootstrap_depth: depth,
            log_scale: lit.log_scale,
            log_working_scale: p.scales[output_level as usize].log2(),
            log_qp: p.log_qp(),
            dnum: p.digits.len(),
            secret: SecretInfo {
                hamming_weight: lit.hamming_weight,
                dense: lit.hamming_weight == dense_secret_weight(lit.log_n),
                encapsulation_weight: encapsulation,
            },
            security: lit.security,
            security_bound: lit.security.max_log_qp(lit.log_n),
            precision_bits: self.precision_bits,
            bytes_per_key,
            key_set_bytes: memory.map_or(bytes_per_key, |m| m.total_bytes()),
            bootstrap_memory: memory,
        })
    }
}

/// N = 2^10, 3 levels, scale 2^40, dnum 2. **Insecure**, for fast tests.
pub fn insecure_test_n10() -> ParamsLiteral {
    ParamsLiteral {
        name: "insecure-n10".into(),
        log_n: 10,
        log_slots: None,
        moduli: Moduli::Bits {
            q: vec![55, 40, 40, 40],
            p: vec![50, 50],
        },
        dnum: 2,
        log_scale: 40.0,
        hamming_weight: 64,
        sigma: 3.2,
        security: Security::Insecure,
    }
}

/// N = 2^11, 5 levels, scale 2^40, dnum 3. **Insecure**, for tests.
pub fn insecure_test_n11() -> ParamsLiteral {
    ParamsLiteral {
        name: "insecure-n11".into(),
        log_n: 11,
        log_slots: None,
        moduli: Moduli::Bits {
            q: vec![55, 40, 40, 40, 40, 40],
            p: vec![50, 50],
        },
        dnum: 3,
        log_scale: 40.0,
        hamming_weight: 128,
        sigma: 3.2,
        security: Security::Insecure,
    }
}

/// N = 2^12, 6 levels, scale 2^40, dnum 7 (one prime per digit). **Insecure**, for tests.
pub fn insecure_test_n12() -> ParamsLiteral {
    ParamsLiteral {
        name: "insecure-n12".into(),
        log_n: 12,
        log_slots: None,
        moduli: Moduli::Bits {
            q: vec![55, 40, 40, 40, 40, 40, 40],
            p: vec![60],
        },
        dnum: 7,
        log_scale: 40.0,
        hamming_weight: 192,
        sigma: 3.2,
        security: Security::Insecure,
    }
}

/// N = 2^14, 7 levels at scale 2^40 (q_0 55 bits), dnum 4, 128-bit secure (log QP = 435 ≤ 438).
pub fn n14_l7() -> ParamsLiteral {
    ParamsLiteral {
        name: "n14-l7".into(),
        log_n: 14,
        log_slots: None,
        moduli: Moduli::Bits {
            q: [vec![55], vec![40; 7]].concat(),
            p: vec![50, 50],
        },
        dnum: 4,
        log_scale: 40.0,
        hamming_weight: 1 << 13,
        sigma: 3.2,
        security: Security::Classic128,
    }
}

/// N = 2^15, 16 levels at scale 2^40 (q_0 58 bits), dnum 6, 128-bit secure (log QP ≈ 845 ≤ 881).
pub fn n15_l16() -> ParamsLiteral {
    ParamsLiteral {
        name: "n15-l16".into(),
        log_n: 15,
        log_slots: None,
        moduli: Moduli::Bits {
            q: [vec![58], vec![40; 16]].concat(),
            p: vec![49, 49, 49],
        },
        dnum: 6,
        log_scale: 40.0,
        hamming_weight: 1 << 14,
        sigma: 3.2,
        security: Security::Classic128,
    }
}

/// N = 2^16, 12 levels at scale 2^40 (q_0 58 bits), dnum 3, 128-bit secure (log QP ≈ 783 ≤ 1747).
pub fn n16_l12() -> ParamsLiteral {
    ParamsLiteral {
        name: "n16-l12".into(),
        log_n: 16,
        log_slots: None,
        moduli: Moduli::Bits {
            q: [vec![58], vec![40; 12]].concat(),
            p: vec![49; 5],
        },
        dnum: 3,
        log_scale: 40.0,
        hamming_weight: 1 << 15,
        sigma: 3.2,
        security: Security::Classic128,
    }
}

/// N = 2^16, 20 levels at scale 2^40 with a 60-bit q_0 and dnum 3: the limb count and digit
/// count of the OpenFHE peer benchmark (21 Q limbs); 7 special primes below 2^50 (IFMA).
/// 128-bit secure (log QP ≈ 1203 ≤ 1747).
pub fn n16_l20() -> ParamsLiteral {
    ParamsLiteral {
        name: "n16-l20".into(),
        log_n: 16,
        log_slots: None,
        moduli: Moduli::Bits {
            q: [vec![60], vec![40; 20]].concat(),
            p: vec![49; 7],
        },
        dnum: 3,
        log_scale: 40.0,
        hamming_weight: 1 << 15,
        sigma: 3.2,
        security: Security::Classic128,
    }
}

fn insecure_boot_n12() -> Result<BootstrapPreset, ParamsError> {
    Ok(bootstrap::presets::insecure_boot_n12())
}

fn insecure_boot_n12_sparse() -> Result<BootstrapPreset, ParamsError> {
    Ok(bootstrap::presets::insecure_boot_n12_sparse())
}

fn boot_n16() -> Result<BootstrapPreset, ParamsError> {
    Ok(bootstrap::presets::boot_n16())
}

fn boot_n16_dense() -> Result<BootstrapPreset, ParamsError> {
    Ok(bootstrap::presets::boot_n16_dense())
}

fn boot_n16_deep() -> Result<BootstrapPreset, ParamsError> {
    Ok(bootstrap::presets::boot_n16_deep())
}

fn insecure_boot_n12_deep() -> Result<BootstrapPreset, ParamsError> {
    Ok(bootstrap::presets::insecure_boot_n12_deep())
}

/// The chain of a bootstrappable preset by field, for
/// [`crate::bootstrap::bootstrappable_literal`]: `q_0`, the user primes near the scale, one
/// bootstrapping prime per circuit level, the special primes.
struct BootChain {
    name: &'static str,
    log_n: u32,
    log_slots: Option<u32>,
    q0_bits: u32,
    user_levels: usize,
    user_bits: u32,
    boot_bits: Vec<u32>,
    p_bits: &'static [u32],
    dnum: usize,
    hamming_weight: usize,
    security: Security,
}

impl BootChain {
    fn literal(self) -> Result<ParamsLiteral, ParamsError> {
        bootstrappable_literal(
            self.name,
            self.log_n,
            self.log_slots,
            self.q0_bits,
            self.user_levels,
            self.user_bits,
            &self.boot_bits,
            self.p_bits,
            self.dnum,
            self.hamming_weight,
            self.security,
        )
        .map_err(|e| ParamsError::Preset {
            name: self.name.to_string(),
            reason: e.to_string(),
        })
    }
}

/// N = 2^12 (2048 slots) with 9 levels after each bootstrap, like `boot-n16`, over hetal-ckks's
/// small bootstrapping circuit and configuration ([`bootstrap::presets::insecure_boot_n12`]);
/// dense secret, 48-bit `q_0`, 60-bit bootstrapping primes, six 61-bit special primes, dnum 5.
/// **Insecure**: for training tests.
fn insecure_boot_n12_l9() -> Result<BootstrapPreset, ParamsError> {
    let config = bootstrap::presets::insecure_boot_n12().config;
    let params = BootChain {
        name: "insecure-boot-n12-l9",
        log_n: 12,
        log_slots: None,
        q0_bits: 48,
        user_levels: 9,
        user_bits: 40,
        boot_bits: vec![60; config.circuit.depth() as usize],
        p_bits: &[61; 6],
        dnum: 5,
        hamming_weight: dense_secret_weight(12),
        security: Security::Insecure,
    }
    .literal()?;
    Ok(BootstrapPreset { params, config })
}

/// N = 2^12 with 2^7 = 128 slots and 9 levels of 40 bits between bootstraps, the small sparse
/// bootstrapping circuit ([`bootstrap::presets::insecure_boot_n12_sparse`]), main secret of
/// weight 32, dnum 5. **Insecure**: quick checks of the softmax on CKKS
/// (`hetal softmax-error --ckks`).
fn insecure_boot_n12_sparse_l9() -> Result<BootstrapPreset, ParamsError> {
    let config = bootstrap::presets::insecure_boot_n12_sparse().config;
    let params = BootChain {
        name: "insecure-boot-n12-sparse-l9",
        log_n: 12,
        log_slots: Some(7),
        q0_bits: 48,
        user_levels: 9,
        user_bits: 40,
        boot_bits: vec![60; config.circuit.depth() as usize],
        p_bits: &[61; 6],
        dnum: 5,
        hamming_weight: 32,
        security: Security::Insecure,
    }
    .literal()?;
    Ok(BootstrapPreset { params, config })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_aliases_resolve() {
        let mut seen = std::collections::HashSet::new();
        for p in REGISTRY {
            assert!(
                p.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                p.name
            );
            assert!(seen.insert(normalize(p.name)), "{} twice", p.name);
            for a in p.aliases {
                assert!(seen.insert(normalize(a)), "alias {a} twice");
                assert_eq!(by_name(a).unwrap().name, p.name);
            }
            assert_eq!(by_name(p.name).unwrap().name, p.name);
            assert_eq!(by_name(&p.name.to_uppercase()).unwrap().name, p.name);
        }
        let e = by_name("boot-n99").unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ParamsError::UnknownPreset { .. }));
        assert!(msg.contains("unknown CKKS preset") && msg.contains("boot-n16-dense"));
        assert!(matches!(
            bootstrappable("n16-l12"),
            Err(ParamsError::NotBootstrappable { .. })
        ));
    }

    #[test]
    fn small_presets_describe_themselves() {
        for p in REGISTRY.iter().filter(|p| p.name.starts_with("insecure-")) {
            let info = p.info().unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert_eq!(info.security, Security::Insecure);
            assert_eq!(info.security_bound, None);
            assert_eq!(info.output_level, p.output_level().unwrap());
            assert_eq!(info.bootstraps, p.bootstraps());
            assert!(info.key_set_bytes >= info.bytes_per_key);
            if let Some(b) = p.bootstrap() {
                let b = b.unwrap();
                assert_eq!(b.params.name, p.name);
                assert_eq!(p.precision_bits, b.config.precision_bits, "{}", p.name);
                assert_eq!(
                    info.output_level + info.bootstrap_depth.unwrap(),
                    info.max_level
                );
                // The working scale after a bootstrap is the user scale.
                let user = if p.name.ends_with("-deep") {
                    bootstrap::presets::DEEP_CHAIN.user_bits
                } else {
                    40
                };
                assert!(
                    (info.log_working_scale - f64::from(user)).abs() < 0.01,
                    "{}",
                    p.name
                );
            } else {
                assert_eq!(info.output_level, info.max_level);
                assert_eq!(info.key_set_bytes, info.bytes_per_key);
            }
        }
        let by = |n: &str| by_name(n).unwrap().output_level().unwrap();
        assert_eq!(by("insecure-boot-n12"), 2);
        assert_eq!(by("insecure-boot-n12-l9"), 9);
        assert_eq!(by("insecure-boot-n12-sparse-l9"), 9);
        assert_eq!(by("boot-n16"), 9);
        assert_eq!(by("boot-n16-dense"), 9);
        assert_eq!(by("boot-n16-deep"), 14);
        assert_eq!(by("insecure-boot-n12-deep"), 14);
        assert_eq!(by("n16-l12"), 12);
    }

    /// The registry's output level is the one a real bootstrapping evaluator reports.
    #[test]
    fn output_level_matches_the_bootstrapping_evaluator() {
        use crate::CkksClient;
        use hetal_traits::Evaluator;
        let p = by_name("insecure-boot-n12").unwrap();
        let b = p.bootstrap_preset().unwrap();
        let params = CkksParams::build(&b.params).unwrap();
        let mut client = CkksClient::from_seed(params.clone(), 5);
        let (keys, est) =
            bootstrap::generate_bootstrap_keys(&mut client, &b.config, &KeyRequest::default())
                .unwrap();
        let info = p.info().unwrap();
        assert_eq!(info.bootstrap_memory, Some(est));
        let ev = bootstrap::BootstrappingEvaluator::new(params, keys, &b.config).unwrap();
        let out = ev.bootstrap_info().unwrap().output_level.0;
        assert_eq!(out, p.output_level().unwrap());
        assert_eq!(out, info.output_level);
    }

    #[test]
    fn declared_security_and_levels_of_the_large_presets() {
        // Literals only (no prime generation at N = 2^16 here: `info` is exercised by the CLI).
        for (name, levels, security) in [
            ("n14-l7", 7, Security::Classic128),
            ("n15-l16", 16, Security::Classic128),
            ("n16-l12", 12, Security::Classic128),
            ("n16-l20", 20, Security::Classic128),
            ("boot-n16", 24, Security::Sparse192Classic128),
            ("boot-n16-dense", 24, Security::Classic128),
            ("boot-n16-deep", 29, Security::Sparse192Classic128),
        ] {
            let lit = by_name(name).unwrap().literal().unwrap();
            assert_eq!(lit.name, name);
            assert_eq!(top_level(&lit), levels, "{name}");
            assert_eq!(lit.security, security, "{name}");
        }
    }
}
