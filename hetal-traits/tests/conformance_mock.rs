//! The conformance suite on the mock backend, for three parameter sets: an ideal chain with exact
//! arithmetic, a chain of real NTT-friendly 40-bit primes with simulated noise, and a bootstrappable one.

use hetal_traits::conformance::Setup;
use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
use hetal_traits::{Encoder, Encryptor, KeyGenerator, KeyRequest};

fn build(
    params: MockParams,
    request: &KeyRequest,
    bits: [f64; 4],
    seed: u64,
) -> Setup<MockEvaluator, MockClient> {
    let mut client = MockClient::new(params.clone(), seed);
    // Bootstrapping keys are generated only where the parameters allow them.
    let mut request = request.clone();
    request.bootstrapping &= params.bootstrap.is_some();
    if !request.bootstrapping {
        request.sparse_bootstrap_slots.clear();
    }
    let evaluator = MockEvaluator::new(client.generate_evaluation_keys(&request).expect("keys"));
    // A ciphertext under another secret key of the same parameters.
    let mut other = MockClient::new(params, seed + 1);
    let top = other.max_level();
    let foreign = Some(other.encrypt_real(&[0.5], top).expect("encrypt"));
    Setup {
        evaluator,
        client,
        fresh_precision_bits: bits[0],
        mul_precision_bits: bits[1],
        keyswitch_precision_bits: bits[2],
        bootstrap_precision_bits: bits[3],
        sparse_bootstrap_precision_bits: bits[3],
        foreign,
        cases: 64,
    }
}

/// Exact arithmetic: precision limited by f64 only.
fn ideal_n64_l4(request: &KeyRequest) -> Setup<MockEvaluator, MockClient> {
    build(MockParams::ideal(64, 4, 40.0), request, [45.0; 4], 11)
}

/// 40-bit NTT-friendly primes (q ≡ 1 mod 2^17) and Gaussian noise of 2^-30 per operation.
fn noisy_primes_n128_l5(request: &KeyRequest) -> Setup<MockEvaluator, MockClient> {
    let primes = [
        1152921504606584833u64,
        1099510054913,
        1099507695617,
        1099506515969,
        1099504549889,
        1099503894529,
    ];
    let params =
        MockParams::from_chain(128, &primes, (1u64 << 40) as f64).with_noise(2f64.powi(-30));
    // 5 sigma of the complex error of one or two noise draws, in bits: 30 - log2(5 * sqrt(2) * 2).
    build(params, request, [26.0, 25.0, 25.0, 25.0], 12)
}

/// Bootstrappable: from level 1 back to level 4, inputs in [-1, 1].
fn bootstrappable_n32_l4(request: &KeyRequest) -> Setup<MockEvaluator, MockClient> {
    let params = MockParams::ideal(32, 4, 40.0)
        .with_bootstrap(1, 4, 1.0)
        .with_noise(2f64.powi(-40));
    build(params, request, [35.0; 4], 13)
}

hetal_traits::conformance_suite!(mock_ideal_n64_l4, ideal_n64_l4);
hetal_traits::conformance_suite!(mock_noisy_primes_n128_l5, noisy_primes_n128_l5);
hetal_traits::conformance_suite!(mock_bootstrappable_n32_l4, bootstrappable_n32_l4);
