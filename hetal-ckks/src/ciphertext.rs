//! Ciphertexts and plaintexts: NTT-domain RNS polynomials with level, scale and identities.

use hetal_traits::{Level, Leveled, Scale};

/// A CKKS ciphertext `(c0, c1)` at some level, NTT domain, `level + 1` limbs per polynomial.
#[derive(Clone, Debug, PartialEq)]
pub struct Ciphertext {
    pub(crate) params_id: u64,
    pub(crate) key_id: u64,
    pub(crate) level: usize,
    pub(crate) scale: f64,
    pub(crate) c0: Vec<u64>,
    pub(crate) c1: Vec<u64>,
}

impl Drop for Ciphertext {
    /// Returns the residue buffers to the crate's scratch pool, so that the next operation's
    /// output reuses mapped memory instead of faulting in fresh pages.
    fn drop(&mut self) {
        crate::ring::scratch::give(std::mem::take(&mut self.c0));
        crate::ring::scratch::give(std::mem::take(&mut self.c1));
    }
}

impl Leveled for Ciphertext {
    fn level(&self) -> Level {
        Level(self.level as u32)
    }
    fn scale(&self) -> Scale {
        Scale(self.scale)
    }
}

impl Ciphertext {
    /// The identity of the parameter set.
    pub fn params_id(&self) -> u64 {
        self.params_id
    }
    /// The identity of the secret key it is encrypted under.
    pub fn key_id(&self) -> u64 {
        self.key_id
    }
}

/// An encoded plaintext at some level, NTT domain, `level + 1` limbs.
#[derive(Clone, Debug, PartialEq)]
pub struct Plaintext {
    pub(crate) params_id: u64,
    pub(crate) level: usize,
    pub(crate) scale: f64,
    pub(crate) data: Vec<u64>,
}

impl Leveled for Plaintext {
    fn level(&self) -> Level {
        Level(self.level as u32)
    }
    fn scale(&self) -> Scale {
        Scale(self.scale)
    }
}

impl Plaintext {
    /// The identity of the parameter set.
    pub fn params_id(&self) -> u64 {
        self.params_id
    }
}

impl Ciphertext {
    /// The NTT-domain residues of `c1` (`level + 1` limbs of N words).
    pub fn c1_ntt(&self) -> &[u64] {
        &self.c1
    }

    /// The scale as a plain number.
    pub fn scale_value(&self) -> f64 {
        self.scale
    }
}
