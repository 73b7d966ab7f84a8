//! MPI for `hetal server train --mpi` (the `mpi` feature): the [`Collective`] of
//! [`hetal_nn::distributed::DistServer`] over an MPI communicator (rsmpi, any MPI-3.1 library:
//! Open MPI, MPICH), and the job's error handling: a rank that fails calls `MPI_Abort`, which
//! ends every rank of the job (a rank that dies makes `mpirun`/`srun` end the job too), so
//! no rank waits for one that is gone.

use hetal_nn::distributed::Collective;
use hetal_nn::{Error, Result};
use mpi::Threading;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Root};

/// The MPI environment of this process (finalised when dropped).
pub struct MpiEnv {
    _universe: Universe,
    world: SimpleCommunicator,
}

impl MpiEnv {
    /// Initialises MPI (funnelled: only the main thread calls MPI; the evaluator's worker
    /// threads do not).
    pub fn init() -> std::result::Result<MpiEnv, String> {
        let (universe, _) = mpi::initialize_with_threading(Threading::Funneled)
            .ok_or("MPI is already initialised (or failed to initialise)")?;
        let world = universe.world();
        Ok(MpiEnv {
            _universe: universe,
            world,
        })
    }

    /// The world communicator as a [`Collective`].
    pub fn comm(&self) -> MpiComm {
        MpiComm {
            world: self.world.duplicate(),
        }
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    /// Ends every rank of the job with `code` (`MPI_Abort`).
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}

/// The world communicator (a duplicate, so that the server's messages are its own).
pub struct MpiComm {
    world: SimpleCommunicator,
}

fn count(n: usize) -> Result<mpi::Count> {
    mpi::Count::try_from(n).map_err(|_| {
        Error::collective(format!(
            "a message of {n} bytes is above MPI's {} per rank",
            mpi::Count::MAX
        ))
    })
}

impl Collective for MpiComm {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_gather(&self, local: &[u8]) -> Result<Vec<Vec<u8>>> {
        let size = self.size();
        let mine = count(local.len())?;
        let mut counts = vec![0 as mpi::Count; size];
        self.world.all_gather_into(&mine, &mut counts[..]);
        let mut displs = Vec::with_capacity(size);
        let mut total: usize = 0;
        for &c in &counts {
            displs.push(count(total)?);
            total += usize::try_from(c).map_err(|_| Error::collective("a negative count"))?;
        }
        count(total)?;
        let mut buf = vec![0u8; total];
        {
            let mut part = PartitionMut::new(&mut buf[..], &counts[..], &displs[..]);
            self.world.all_gather_varcount_into(local, &mut part);
        }
        let mut out = Vec::with_capacity(size);
        for (i, &c) in counts.iter().enumerate() {
            let d = displs[i] as usize;
            out.push(buf[d..d + c as usize].to_vec());
        }
        Ok(out)
    }

    fn broadcast(&self, bytes: Vec<u8>) -> Result<Vec<u8>> {
        let root = self.world.process_at_rank(0);
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        let len = usize::try_from(len).map_err(|_| Error::collective("a message too long"))?;
        count(len)?;
        let mut buf = if self.rank() == 0 {
            bytes
        } else {
            vec![0u8; len]
        };
        root.broadcast_into(&mut buf[..]);
        Ok(buf)
    }
}
