//! The conformance suite's bootstrapping contract on the bootstrapping CKKS evaluator (small
//! insecure preset): output level and canonical scale as `bootstrap_info` declares, precision as
//! the preset declares; the pair bootstrap's contract (both real parts within that precision,
//! also after twenty pairs in a row; typed errors for mismatched levels and scales).

use hetal_ckks::CkksClient;
use hetal_ckks::CkksParams;
use hetal_ckks::bootstrap::{BootstrappingEvaluator, generate_bootstrap_keys, presets};
use hetal_traits::conformance::Setup;
use hetal_traits::{Encryptor, KeyRequest};

fn setup(request: &KeyRequest) -> Setup<BootstrappingEvaluator, CkksClient> {
    let preset = presets::insecure_boot_n12();
    let params = CkksParams::new(&preset.params).expect("valid preset");
    let mut client = CkksClient::from_seed(params.clone(), 2025);
    let (keys, _) =
        generate_bootstrap_keys(&mut client, &preset.config, request).expect("bootstrapping keys");
    let evaluator =
        BootstrappingEvaluator::new(params.clone(), keys, &preset.config).expect("evaluator");
    let mut stranger = CkksClient::from_seed(params, 7);
    let foreign = stranger.encrypt_real(&[0.5], hetal_traits::Level(1)).ok();
    let fresh = 40.0 - 6.0 - 6.0;
    Setup {
        evaluator,
        client,
        fresh_precision_bits: fresh,
        mul_precision_bits: fresh - 1.0,
        keyswitch_precision_bits: fresh - 1.0,
        bootstrap_precision_bits: preset.config.precision_bits,
        foreign,
        cases: 4,
    }
}

#[test]
fn bootstrap_conformance_contract() {
    hetal_traits::conformance::bootstrapping(setup);
}

#[test]
fn bootstrap_pair_conformance_contract() {
    hetal_traits::conformance::bootstrap_pair(setup);
}
