//! Times the pieces of encoding and decryption at N = 2^16 (developer tool).
use hetal_ckks::{CkksClient, CkksParams, presets};
use hetal_traits::{Complex64, Decryptor, Encoder, Encryptor};
use std::time::Instant;

fn time<T>(label: &str, reps: usize, mut f: impl FnMut() -> T) {
    drop(f());
    let mut ts: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            drop(f());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ts.sort_by(f64::total_cmp);
    println!("{label:<24} {:>8.3} ms", ts[reps / 2]);
}

fn main() {
    let params = CkksParams::new(&presets::n16_l12()).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        let mut client = CkksClient::from_seed(params.clone(), 1);
        let slots = params.slots;
        let x: Vec<Complex64> = (0..slots)
            .map(|i| Complex64::new(((i * 7919) % 1000) as f64 / 1000.0 - 0.5, 0.0))
            .collect();
        let top = client.max_level();
        let pt = client.encode_at(&x, top).unwrap();
        let ct = client.encrypt(&pt).unwrap();
        if let Some(op) = std::env::args().nth(1) {
            let dpt = client.decrypt(&ct).unwrap();
            for _ in 0..200 {
                match op.as_str() {
                    "decode" => drop(client.decode(&dpt).unwrap()),
                    "encode" => drop(client.encode_at(&x, top).unwrap()),
                    _ => drop(client.decrypt(&ct).unwrap()),
                }
            }
            return;
        }
        time("encode", 11, || client.encode_at(&x, top).unwrap());
        time("decrypt (to plaintext)", 11, || {
            client.decrypt(&ct).unwrap()
        });
        let dpt = client.decrypt(&ct).unwrap();
        time("decode", 11, || client.decode(&dpt).unwrap());
        time("decrypt_values", 11, || client.decrypt_values(&ct).unwrap());
    });
}
