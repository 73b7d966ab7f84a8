//! The hetal-traits conformance suite on the insecure CKKS test presets.
//!
//! Promised precisions (minimum over slots, values in the unit box) follow the usual CKKS error
//! estimate: a fresh encryption has an error of a few times `sqrt(N)·σ/Δ`, so about
//! `log Δ − (log N)/2 − 6` bits at worst over N/2 slots; one multiplication and rescale, or one
//! key switch, costs about one more bit.

use hetal_ckks::{CkksClient, CkksEvaluator, CkksParams, ParamsLiteral, presets};
use hetal_traits::conformance::Setup;
use hetal_traits::{Encryptor, KeyGenerator, KeyRequest};

fn setup_for(lit: ParamsLiteral, request: &KeyRequest) -> Setup<CkksEvaluator, CkksClient> {
    let params = CkksParams::new(&lit).expect("valid preset");
    let mut client = CkksClient::from_seed(params.clone(), 2024);
    // The leveled evaluator cannot bootstrap (that is `BootstrappingEvaluator`, checked in
    // bootstrap_conformance.rs): the suite then checks that bootstrap() is refused.
    let mut request = request.clone();
    request.bootstrapping = false;
    request.sparse_bootstrap_slots.clear();
    let keys = client
        .generate_evaluation_keys(&request)
        .expect("key generation");
    let evaluator = CkksEvaluator::new(params.clone(), keys).expect("evaluator");
    let mut stranger = CkksClient::from_seed(params, 7);
    let foreign = stranger.encrypt_real(&[0.5], hetal_traits::Level(1)).ok();
    let fresh = lit.log_scale - lit.log_n as f64 / 2.0 - 6.0;
    Setup {
        evaluator,
        client,
        fresh_precision_bits: fresh,
        mul_precision_bits: fresh - 1.0,
        keyswitch_precision_bits: fresh - 1.0,
        bootstrap_precision_bits: 0.0,
        sparse_bootstrap_precision_bits: 0.0,
        foreign,
        cases: 8,
    }
}

fn n10(r: &KeyRequest) -> Setup<CkksEvaluator, CkksClient> {
    setup_for(presets::insecure_test_n10(), r)
}

fn n11(r: &KeyRequest) -> Setup<CkksEvaluator, CkksClient> {
    setup_for(presets::insecure_test_n11(), r)
}

fn n12_one_prime_digits(r: &KeyRequest) -> Setup<CkksEvaluator, CkksClient> {
    setup_for(presets::insecure_test_n12(), r)
}

fn n11_sparse_16_slots(r: &KeyRequest) -> Setup<CkksEvaluator, CkksClient> {
    let mut lit = presets::insecure_test_n11();
    lit.log_slots = Some(4);
    setup_for(lit, r)
}

hetal_traits::conformance_suite!(ckks_insecure_test_n10, n10);
hetal_traits::conformance_suite!(ckks_insecure_test_n11, n11);
hetal_traits::conformance_suite!(ckks_insecure_test_n12, n12_one_prime_digits);
hetal_traits::conformance_suite!(ckks_insecure_test_n11_sparse16, n11_sparse_16_slots);
