//! The conformance suite's bootstrapping contract on the bootstrapping CKKS evaluator (small
//! insecure preset): output level and canonical scale as `bootstrap_info` declares, precision as
//! the preset declares; the pair bootstrap's contract (both real parts within that precision,
//! also after twenty pairs in a row; typed errors for mismatched levels and scales); the sparse
//! bootstrap's contract (periods 2^7 and 2^9, single and pair, ten in a row, the full fallback
//! without sparse keys).

use hetal_ckks::CkksClient;
use hetal_ckks::CkksParams;
use hetal_ckks::bootstrap::{
    BootstrappingEvaluator, generate_bootstrap_keys, presets, sparse_precision_bits,
};
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
    // The smallest period of the suite's sparse cases has the lowest declared precision.
    let smallest = hetal_traits::conformance::suite_sparse_slots(params.slots)
        .into_iter()
        .min()
        .unwrap_or(params.slots);
    let sparse_bits = sparse_precision_bits(&params, &preset.config, smallest);
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
        sparse_bootstrap_precision_bits: sparse_bits,
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

#[test]
fn bootstrap_sparse_conformance_contract() {
    hetal_traits::conformance::bootstrap_sparse(setup);
}

#[test]
fn bootstrap_pair_sparse_conformance_contract() {
    hetal_traits::conformance::bootstrap_pair_sparse(setup);
}

#[test]
fn bootstrap_sparse_without_keys_conformance_contract() {
    hetal_traits::conformance::bootstrap_sparse_without_keys(setup);
}
