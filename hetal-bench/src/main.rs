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
    let guard = pipe_guard::install();
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
    if let Some(g) = guard {
        g.finish();
    }
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// A closed output pipe (`hetal ... | head -1`) must neither panic (`println!` does on a broken
/// pipe) nor stop the work half-way. When standard output is a pipe, [`pipe_guard::install`]
/// puts a pipe of its own in its place and a thread copies it to the real one; once the reader
/// has gone, the thread discards the rest, so every command runs to its end, writes its files,
/// and exits with its own status.
#[cfg(unix)]
mod pipe_guard {
    use std::io::{ErrorKind, Read, Write};
    use std::os::fd::{AsFd, AsRawFd};
    use std::os::unix::fs::FileTypeExt;

    /// The relay thread.
    pub struct Guard {
        thread: std::thread::JoinHandle<()>,
    }

    /// Installs the relay if standard output is a pipe; `None` otherwise (a terminal or a file
    /// cannot go away under us) or if any step fails (then nothing changed).
    pub fn install() -> Option<Guard> {
        let real = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
        let mut out = std::fs::File::from(real);
        if !out.metadata().ok()?.file_type().is_fifo() {
            return None;
        }
        let (mut reader, writer) = std::io::pipe().ok()?;
        let _ = std::io::stdout().flush();
        // SAFETY: both descriptors are open; dup2 atomically replaces descriptor 1, which the
        // standard library's stdout keeps writing to.
        if unsafe { libc::dup2(writer.as_raw_fd(), libc::STDOUT_FILENO) } < 0 {
            return None;
        }
        drop(writer);
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            let mut open = true;
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if open && out.write_all(&buf[..n]).is_err() {
                            open = false;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
        Some(Guard { thread })
    }

    impl Guard {
        /// Flushes standard output, closes the relay's pipe and waits for the relay to finish.
        pub fn finish(self) {
            let _ = std::io::stdout().flush();
            match std::fs::OpenOptions::new().write(true).open("/dev/null") {
                // SAFETY: replaces descriptor 1 (our pipe's write end) by /dev/null.
                Ok(null) => unsafe {
                    libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
                },
                // SAFETY: closes descriptor 1 (our pipe's write end); nothing writes to it now.
                Err(_) => unsafe {
                    libc::close(libc::STDOUT_FILENO);
                },
            }
            let _ = self.thread.join();
        }
    }
}

#[cfg(not(unix))]
mod pipe_guard {
    /// No relay off Unix.
    pub struct Guard;
    /// Does nothing off Unix.
    pub fn install() -> Option<Guard> {
        None
    }
    impl Guard {
        /// Does nothing.
        pub fn finish(self) {}
    }
}
