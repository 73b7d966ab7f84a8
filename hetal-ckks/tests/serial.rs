//! Serialisation: round trips, validation on read, and no panics on hostile bytes.

use hetal_ckks::{
    Ciphertext, CkksClient, CkksEvaluator, CkksParams, EvaluationKeys, Plaintext, PublicKey,
    SecretKey, presets,
};
use hetal_traits::{
    Decryptor, Encoder, Encryptor, Error, Evaluator, KeyGenerator, KeyRequest, Level, RotStep,
};
use proptest::prelude::*;
use std::sync::OnceLock;

struct Fixture {
    params: CkksParams,
    ct: Vec<u8>,
    pt: Vec<u8>,
    pk: Vec<u8>,
    sk: Vec<u8>,
    evk: Vec<u8>,
    par: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let params = CkksParams::new(&presets::insecure_test_n10()).unwrap();
        let mut c = CkksClient::from_seed(params.clone(), 11);
        let mut req = KeyRequest::with_rotations([1]);
        req.conjugation = true;
        let keys = c.generate_evaluation_keys(&req).unwrap();
        let ct = c.encrypt_real(&[1.0, -2.0], Level(2)).unwrap();
        let pt = c.encode_real_at(&[0.5], Level(1)).unwrap();
        Fixture {
            ct: ct.to_bytes(&params),
            pt: pt.to_bytes(&params),
            pk: c.public_key().to_bytes(&params),
            sk: c.secret_key().to_bytes(),
            evk: keys.to_bytes(&params),
            par: params.to_bytes(),
            params,
        }
    })
}

/// Tries every reader on `bytes`; each must return (not panic).
fn read_all(bytes: &[u8]) -> usize {
    let p = &fixture().params;
    [
        Ciphertext::from_bytes(p, bytes).is_ok(),
        Plaintext::from_bytes(p, bytes).is_ok(),
        PublicKey::from_bytes(p, bytes).is_ok(),
        SecretKey::from_bytes(p, bytes).is_ok(),
        EvaluationKeys::from_bytes(p, bytes).is_ok(),
        CkksParams::from_bytes(bytes).is_ok(),
    ]
    .iter()
    .filter(|&&ok| ok)
    .count()
}

#[test]
fn round_trips_preserve_everything() {
    let f = fixture();
    let p = CkksParams::from_bytes(&f.par).unwrap();
    assert_eq!(p, f.params);
    assert_eq!(p.q_primes(), f.params.q_primes());
    let sk = SecretKey::from_bytes(&p, &f.sk).unwrap();
    let client = CkksClient::from_secret_key(p.clone(), sk).unwrap();
    let keys = EvaluationKeys::from_bytes(&p, &f.evk).unwrap();
    let server = CkksEvaluator::new(p.clone(), keys).unwrap();
    let ct = Ciphertext::from_bytes(&p, &f.ct).unwrap();
    let pt = Plaintext::from_bytes(&p, &f.pt).unwrap();
    let y = server
        .rotate(
            &server.rescale(&server.mul(&ct, &ct).unwrap()).unwrap(),
            RotStep(1),
        )
        .unwrap();
    let out = client.decrypt_real(&y).unwrap();
    assert!((out[0] - 4.0).abs() < 1e-6, "{}", out[0]);
    let conj = server.conjugate(&ct).unwrap();
    assert!((client.decrypt_real(&conj).unwrap()[1] + 2.0).abs() < 1e-6);
    assert!((server.decode(&pt).unwrap()[0].re - 0.5).abs() < 1e-9);
    // Re-serialising gives identical bytes.
    assert_eq!(ct.to_bytes(&p), f.ct);
    assert_eq!(PublicKey::from_bytes(&p, &f.pk).unwrap().to_bytes(&p), f.pk);
    assert_eq!(server.keys().to_bytes(&p), f.evk);
    // Keys are stored compressed: about half of the in-memory size.
    assert!(f.evk.len() < 3 * server.keys().relin_key().unwrap().size_bytes().0 / 2 * 3 / 3);
}

#[test]
fn wrong_parameters_kind_version_and_truncation_are_errors() {
    let f = fixture();
    let other = CkksParams::new(&presets::insecure_test_n11()).unwrap();
    assert!(matches!(
        Ciphertext::from_bytes(&other, &f.ct),
        Err(Error::ParameterMismatch { .. })
    ));
    assert!(matches!(
        EvaluationKeys::from_bytes(&other, &f.evk),
        Err(Error::ParameterMismatch { .. })
    ));
    // A plaintext is not a ciphertext.
    assert!(matches!(
        Ciphertext::from_bytes(&f.params, &f.pt),
        Err(Error::InvalidInput { .. })
    ));
    // Version bump.
    let mut v = f.ct.clone();
    v[4] ^= 0xff;
    assert!(Ciphertext::from_bytes(&f.params, &v).is_err());
    // Every truncation of every blob fails.
    for blob in [&f.ct, &f.pt, &f.pk, &f.sk, &f.par] {
        for cut in (0..blob.len()).step_by(97) {
            assert_eq!(read_all(&blob[..cut]), 0, "truncated at {cut}");
        }
    }
    for cut in (0..f.evk.len()).step_by(f.evk.len() / 50) {
        assert!(EvaluationKeys::from_bytes(&f.params, &f.evk[..cut]).is_err());
    }
    // Trailing bytes.
    let mut t = f.ct.clone();
    t.push(0);
    assert!(Ciphertext::from_bytes(&f.params, &t).is_err());
}

#[test]
fn out_of_range_residues_are_rejected() {
    let f = fixture();
    let mut c = CkksClient::from_seed(f.params.clone(), 5);
    let ct = c.encrypt_real(&[1.0], Level(0)).unwrap();
    let bytes = ct.to_bytes(&f.params);
    // Level 0: one 55-bit limb packed in 7 bytes. Set the last residue of c1 to 2^56 - 1 ≥ q_0.
    assert!(f.params.q_primes()[0] < 1 << 56);
    let mut b = bytes.clone();
    assert!(Ciphertext::from_bytes(&f.params, &b).is_ok());
    let len = b.len();
    for x in &mut b[len - 7..] {
        *x = 0xff;
    }
    assert!(matches!(
        Ciphertext::from_bytes(&f.params, &b),
        Err(Error::InvalidInput { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), prefix in 0usize..8) {
        // Half of the inputs carry a valid header, so that the body parsers are exercised too.
        let f = fixture();
        let blob = [&f.ct, &f.pt, &f.pk, &f.sk, &f.evk, &f.par, &f.ct, &f.evk][prefix];
        let mut input = if prefix < 6 { blob[..7.min(blob.len())].to_vec() } else { Vec::new() };
        input.extend_from_slice(&bytes);
        prop_assert_eq!(read_all(&input), 0);
    }

    #[test]
    fn corrupted_blobs_never_panic(which in 0usize..5, pos in any::<usize>(), val in any::<u8>()) {
        let f = fixture();
        let blob = [&f.ct, &f.pt, &f.pk, &f.sk, &f.par][which];
        let mut b = blob.clone();
        let i = pos % b.len();
        b[i] = val;
        read_all(&b);
    }
}

/// A size limit, as every reader of untrusted messages must set.
fn limited() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ 1 << 24 }>()
}

fn embed(ct: &Ciphertext) -> Vec<u8> {
    bincode::serde::encode_to_vec(("message", ct), limited()).unwrap()
}

fn unembed(bytes: &[u8]) -> Option<Ciphertext> {
    bincode::serde::decode_from_slice::<(String, Ciphertext), _>(bytes, limited())
        .ok()
        .map(|((_, ct), _)| ct)
}

#[test]
fn embedded_ciphertexts_round_trip_and_are_validated() {
    let f = fixture();
    let mut c = CkksClient::from_seed(f.params.clone(), 11);
    let ct = c.encrypt_real(&[1.0, -2.0], Level(2)).unwrap();
    let back = unembed(&embed(&ct)).unwrap();
    assert_eq!(back, ct);
    back.validate(&f.params).unwrap();
    // A ciphertext of other parameters deserialises but does not validate, nor evaluate.
    let other = CkksParams::new(&presets::insecure_test_n11()).unwrap();
    let mut c2 = CkksClient::from_seed(other.clone(), 11);
    let foreign = unembed(&embed(&c2.encrypt_real(&[1.0], Level(1)).unwrap())).unwrap();
    assert!(matches!(
        foreign.validate(&f.params),
        Err(Error::ParameterMismatch { .. })
    ));
    assert!(c.decrypt(&foreign).is_err());
    // A residue above its prime is caught by `validate` (and so by decryption). At level 0 the
    // one 55-bit limb is packed in 7 bytes: set the last residue of c1 to 2^56 - 1 ≥ q_0.
    assert!(f.params.q_primes()[0] < 1 << 56);
    let ct = c.encrypt_real(&[1.0], Level(0)).unwrap();
    let mut bytes = embed(&ct);
    let len = bytes.len();
    for x in &mut bytes[len - 7..] {
        *x = 0xff;
    }
    let bad = unembed(&bytes).unwrap();
    assert!(matches!(
        bad.validate(&f.params),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(c.decrypt(&bad), Err(Error::InvalidInput { .. })));
}

#[test]
fn embedded_ciphertexts_with_a_wrong_shape_are_errors() {
    let f = fixture();
    let mut c = CkksClient::from_seed(f.params.clone(), 11);
    let keys = c.generate_evaluation_keys(&KeyRequest::default()).unwrap();
    let ev = CkksEvaluator::new(f.params.clone(), keys).unwrap();
    let ct = c.encrypt_real(&[1.0], Level(2)).unwrap();
    // Change the declared level of the embedded form (after the tag string and log_n, params_id,
    // key_id): the lengths no longer match and deserialisation fails.
    let bytes = embed(&ct);
    for i in 0..bytes.len().min(64) {
        for v in [0u8, 1, 3, 200] {
            let mut b = bytes.clone();
            b[i] = v;
            if let Some(x) = unembed(&b) {
                // Whatever deserialises must give an error or a result, never a panic.
                let _ = ev.add(&x, &x);
                let _ = ev.rescale(&x);
                let _ = c.decrypt(&x);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn embedded_random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = unembed(&bytes);
    }
}

/// Issue 16, case 6: every single-bit flip of a stored secret key is an error (the key carries
/// a digest of its identity and coefficients), so a corrupted key never decrypts garbage.
#[test]
fn any_corruption_of_the_secret_key_is_an_error() {
    let f = fixture();
    assert!(SecretKey::from_bytes(&f.params, &f.sk).is_ok());
    let mut rejected = 0;
    for i in 0..f.sk.len() {
        for bit in [0u8, 3, 7] {
            let mut b = f.sk.clone();
            b[i] ^= 1 << bit;
            assert!(
                SecretKey::from_bytes(&f.params, &b).is_err(),
                "a flip of bit {bit} of byte {i} was accepted"
            );
            rejected += 1;
        }
    }
    assert_eq!(rejected, 3 * f.sk.len());
    // A ternary coefficient changed to another ternary value (the check the digest adds to the
    // range check): find the coefficients' bytes by re-serialising a key with one change.
    let sk = SecretKey::from_bytes(&f.params, &f.sk).unwrap();
    let len = f.sk.len();
    let mut swapped = 0;
    for i in 0..len {
        if f.sk[i] == 0 {
            let mut b = f.sk.clone();
            b[i] = 1;
            assert!(SecretKey::from_bytes(&f.params, &b).is_err(), "byte {i}");
            swapped += 1;
        }
    }
    assert!(swapped > 0);
    assert_eq!(
        sk.key_id(),
        SecretKey::from_bytes(&f.params, &f.sk).unwrap().key_id()
    );
}
