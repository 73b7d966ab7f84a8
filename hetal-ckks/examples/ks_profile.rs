//! Times the pieces of one key switch at N = 2^16, L = 20 (developer tool).
use hetal_ckks::{CkksClient, CkksParams, keyswitch, presets, ring};
use hetal_traits::KeyGenerator;
struct Instant(u64);
impl Instant {
    fn now() -> Self {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
        Instant(s.split_whitespace().next().unwrap().parse().unwrap())
    }
    fn elapsed(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(Instant::now().0 - self.0)
    }
}

fn main() {
    let params = CkksParams::new(&presets::n16_l20()).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        let mut client = CkksClient::from_seed(params.clone(), 1);
        let keys = client
            .generate_evaluation_keys(&Default::default())
            .unwrap();
        let key = keys.relin_key().unwrap();
        let l = params.max_level();
        let n = params.n;
        let d: Vec<u64> = (0..(l + 1) * n)
            .map(|i| (i as u64 * 12345) % params.moduli[i / n].q)
            .collect();
        let mut x = d[..n].to_vec();
        let t = Instant::now();
        for _ in 0..20 {
            params.ntt[1].forward(&mut x);
        }
        println!(
            "ntt fwd (40-bit): {:.3} ms",
            t.elapsed().as_secs_f64() * 1e3 / 20.0
        );
        let t = Instant::now();
        for _ in 0..20 {
            params.ntt[1].inverse(&mut x);
        }
        println!(
            "ntt inv (40-bit): {:.3} ms",
            t.elapsed().as_secs_f64() * 1e3 / 20.0
        );
        let t = Instant::now();
        for _ in 0..20 {
            params.ntt[0].forward(&mut x);
        }
        println!(
            "ntt fwd (60-bit): {:.3} ms",
            t.elapsed().as_secs_f64() * 1e3 / 20.0
        );
        let mut dec = keyswitch::decompose(&params, &d, l);
        for _ in 0..3 {
            let t = Instant::now();
            dec = keyswitch::decompose(&params, &d, l);
            println!("decompose: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        }
        let t = Instant::now();
        let [a, b] = keyswitch::inner_product(&params, &dec, key, None);
        println!("inner product: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let r = keyswitch::mod_down(&params, &a, l);
        println!("mod_down: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let r2 = ring::rescale(&params, &r, l);
        println!(
            "rescale (one poly): {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        std::hint::black_box((b, r2));
        if std::env::var("KS_LOOP").is_ok() {
            let t = Instant::now();
            for _ in 0..10 {
                std::hint::black_box(keyswitch::key_switch(&params, &d, l, key));
            }
            println!(
                "key_switch x10: {:.1} ms each",
                t.elapsed().as_secs_f64() * 1e3 / 10.0
            );
        }
    });
}
