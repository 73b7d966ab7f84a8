//! `hetal demo`: an encrypted dot product between a client and a server on the mock backend.

use hetal_traits::counting::Counting;
use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
use hetal_traits::{
    Decryptor, Encoder, Encryptor, EvaluatorExt, KeyGenerator, KeyRequest, Leveled, ext,
};
use rand::{RngExt, SeedableRng};

/// Arguments of `hetal demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Vector length (a power of two: the slot count).
    #[arg(long, default_value_t = 1024)]
    pub len: usize,
    /// Standard deviation of the simulated CKKS noise.
    #[arg(long, default_value_t = 1e-9)]
    pub noise: f64,
    /// Seed of the data and of the simulated noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    if !args.len.is_power_of_two() || args.len < 2 {
        return Err(format!("--len must be a power of two >= 2, got {}", args.len).into());
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let x: Vec<f64> = (0..args.len).map(|_| rng.random_range(-1.0..1.0)).collect();
    let w: Vec<f64> = (0..args.len).map(|_| rng.random_range(-1.0..1.0)).collect();
    let expected: f64 = x.iter().zip(&w).map(|(a, b)| a * b).sum();

    // Client: parameters, keys, encryption.
    let params = MockParams::ideal(args.len, 4, 40.0).with_noise(args.noise);
    let mut client = MockClient::try_new(params, args.seed)?;
    let request = KeyRequest {
        rotations: ext::sum_slots_rotations(args.len),
        ..KeyRequest::default()
    };
    let keys = client.generate_evaluation_keys(&request)?;
    let top = client.max_level();
    let cx = client.encrypt_real(&x, top)?;
    let cw = client.encrypt_real(&w, top)?;

    // Server: evaluation keys only; counts what it does.
    let server = Counting::new(MockEvaluator::try_new(keys)?);
    let prod = server.mul_rescale(&cx, &cw)?;
    let dot = server.sum_slots(&prod)?;

    // Client: decrypt.
    let got = client.decrypt_real(&dot)?[0];
    println!(
        "encrypted dot product of two random vectors of length {} (mock backend, noise {:e})",
        args.len, args.noise
    );
    println!("  result   {got:.9}");
    println!("  expected {expected:.9}");
    println!(
        "  error    {:.3e} ({:.1} bits)",
        (got - expected).abs(),
        -(got - expected).abs().log2()
    );
    println!("  levels   {} -> {}", top.0, dot.level().0);
    println!("  ops      {}", server.snapshot());
    Ok(())
}
