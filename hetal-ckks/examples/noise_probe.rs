//! Developer tool: coefficient-noise estimates of fresh encryption, key switch and multiply.
use hetal_ckks::{CkksClient, CkksEvaluator, CkksParams, presets};
use hetal_traits::{
    Complex64, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, KeyRequest, RotStep,
};

fn main() {
    for lit in [
        presets::insecure_test_n10(),
        presets::insecure_test_n11(),
        presets::insecure_test_n12(),
    ] {
        let params = CkksParams::new(&lit).unwrap();
        let mut c = CkksClient::from_seed(params.clone(), 3);
        let mut req = KeyRequest::with_rotations([1]);
        req.conjugation = true;
        let keys = c.generate_evaluation_keys(&req).unwrap();
        let e = CkksEvaluator::new(params.clone(), keys).unwrap();
        let n = params.n as f64;
        let zeros = vec![Complex64::new(0.0, 0.0); e.slots()];
        let ct = c.encrypt_values(&zeros, e.max_level()).unwrap();
        let stat = |v: Vec<Complex64>, scale: f64| {
            let rms = (v.iter().map(|z| z.norm_sqr()).sum::<f64>() / v.len() as f64).sqrt();
            let max = v.iter().map(|z| z.norm()).fold(0.0, f64::max);
            (rms * scale / n.sqrt(), -(max.log2()))
        };
        let s = ct.scale_value();
        let f = stat(c.decrypt_values(&ct).unwrap(), s);
        let r = stat(
            c.decrypt_values(&e.rotate(&ct, RotStep(1)).unwrap())
                .unwrap(),
            s,
        );
        let cj = stat(c.decrypt_values(&e.conjugate(&ct).unwrap()).unwrap(), s);
        let cpk = c
            .encrypt_public(&e.encode_at(&zeros, e.max_level()).unwrap())
            .unwrap();
        let pk = stat(c.decrypt_values(&cpk).unwrap(), s);
        println!(
            "{}: coefficient noise std (min-slot bits): fresh {:.2} ({:.1}), pk {:.2} ({:.1}), rotate {:.2} ({:.1}), conj {:.2} ({:.1})",
            lit.name, f.0, f.1, pk.0, pk.1, r.0, r.1, cj.0, cj.1
        );
    }
}
