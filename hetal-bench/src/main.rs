//! `hetal`: the command-line tool of the hetal workspace.
//!
//! Each subcommand lives in its own module under `cmd/`.

use clap::{Parser, Subcommand};

mod cmd;

/// hetal: homomorphic-encryption linear algebra and encrypted transfer learning.
#[derive(Parser, Debug)]
#[command(name = "hetal", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// An encrypted dot product on the mock backend, with its op counts.
    Demo(cmd::demo::DemoArgs),
    /// Encrypted softmax-regression training (HETAL), both roles in one process.
    Train(cmd::train::TrainArgs),
    /// HETAL's method against HE.CNNtraining's (with and without the quadratic gradient) on the
    /// same data: accuracy per epoch, time and operations per step.
    Compare(cmd::compare::CompareArgs),
    /// The client's steps of the two-process protocol (keygen, encrypt, evaluate, decrypt).
    Client(cmd::client::ClientArgs),
    /// The server's steps of the two-process protocol (train).
    Server(cmd::server::ServerArgs),
    /// HETAL's matrix-multiplication comparison: op counts, depth and time of DiagABT/DiagATB and the baselines.
    Matmul(cmd::matmul::MatmulArgs),
    /// Single-threaded timings of the basic CKKS operations on a preset (for peer comparisons).
    CkksOps(cmd::ckks_ops::CkksOpsArgs),
    /// HETAL's softmax error table (ASoftmax and baselines) on the exact mock.
    SoftmaxError(cmd::softmax_error::SoftmaxErrorArgs),
    /// Every CKKS preset: N, slots, levels, scale, log QP, secret, security, precision, key memory.
    Presets(cmd::presets::PresetsArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Demo(a) => cmd::demo::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Compare(a) => cmd::compare::run(a),
        Command::Client(a) => cmd::client::run(a),
        Command::Server(a) => cmd::server::run(a),
        Command::Matmul(a) => cmd::matmul::run(a),
        Command::CkksOps(a) => cmd::ckks_ops::run(a),
        Command::SoftmaxError(a) => cmd::softmax_error::run(a),
        Command::Presets(a) => cmd::presets::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
