//! The ranks of a data-parallel run over MPI (the `mpi` cargo feature, Open MPI through the
//! `mpi` crate): [`init`] when `mpirun` started the process, [`finalize`] before it exits.
//!
//! Every collective is started non-blocking and polled until it completes or
//! [`super::Options::timeout`] passes; then the rank says which reduction it was waiting in
//! and ends the job (`MPI_Abort`), since a rank that died or hangs would otherwise stop the
//! others for ever. MPI runs at `MPI_THREAD_SERIALIZED`: any thread may call it (the
//! training loop runs on a worker of the thread pool), one at a time, which a lock around
//! every collective guarantees.

use super::{Group, Options};
use crate::error::{Error, Result};
use mpi::collective::SystemOperation;
use mpi::environment::{Threading, Universe};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// MPI's world communicator, the lock that serialises calls to it, and the collectives'
/// timeout.
pub struct MpiGroup {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    calls: Mutex<()>,
    timeout: Duration,
}

// SAFETY: MPI is initialised at `MPI_THREAD_SERIALIZED` (checked in `init`): any thread
// may call it provided no two do at once, and every method that touches `world` holds
// `calls` while it does.
unsafe impl Send for MpiGroup {}
// SAFETY: as for `Send`: shared references only reach MPI through the `calls` lock.
unsafe impl Sync for MpiGroup {}

/// The MPI environment; dropped (`MPI_Finalize`) by [`finalize`].
struct Environment(#[allow(dead_code)] Universe);
// SAFETY: the universe is only dropped, by `finalize`, on the thread that made it (checked).
unsafe impl Send for Environment {}

static UNIVERSE: Mutex<Option<(Environment, ThreadId)>> = Mutex::new(None);

/// Initialises MPI and installs its world as this process's ranks (see
/// [`super::install`]); returns them. An error when MPI cannot start.
pub fn init(options: Options) -> Result<Arc<MpiGroup>> {
    let (universe, level) =
        mpi::initialize_with_threading(Threading::Serialized).ok_or_else(|| {
            Error::config(
                "distributed",
                "MPI could not be initialised (already started?)",
            )
        })?;
    if level < Threading::Serialized {
        return Err(Error::config(
            "distributed",
            format!("this MPI gives thread support {level:?}; splot needs Serialized"),
        ));
    }
    let world = universe.world();
    let group = Arc::new(MpiGroup {
        rank: world.rank() as usize,
        size: world.size() as usize,
        world,
        calls: Mutex::new(()),
        timeout: options.timeout,
    });
    *UNIVERSE.lock().unwrap_or_else(|e| e.into_inner()) =
        Some((Environment(universe), std::thread::current().id()));
    super::install(group.clone(), options)?;
    Ok(group)
}

/// Finalises MPI (every rank must call it before exiting normally); does nothing when MPI
/// was not initialised, or when called from another thread than [`init`]'s.
pub fn finalize() {
    let mut slot = UNIVERSE.lock().unwrap_or_else(|e| e.into_inner());
    if slot
        .as_ref()
        .is_some_and(|(_, t)| *t == std::thread::current().id())
    {
        slot.take();
    }
}

impl MpiGroup {
    /// Holds the lock that serialises MPI calls.
    fn serialise(&self) -> std::sync::MutexGuard<'_, ()> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Polls `request` until it completes; past the timeout, reports and ends the job.
    fn wait<'a, D: ?Sized, S: mpi::request::Scope<'a>>(
        &self,
        mut request: mpi::request::Request<'a, D, S>,
        what: &str,
    ) {
        let started = Instant::now();
        let mut polls = 0u32;
        loop {
            match request.test() {
                Ok(_) => return,
                Err(r) => request = r,
            }
            if started.elapsed() > self.timeout {
                eprintln!(
                    "error: rank {} of {}: waited {:.0} s for the other ranks in {what}: a rank \
                     has died or hangs (set the limit with --dist-timeout); ending the job",
                    self.rank,
                    self.size,
                    self.timeout.as_secs_f64()
                );
                self.world.abort(1);
            }
            // Spin briefly (a reduction on one machine takes microseconds), then sleep so that
            // oversubscribed ranks leave the cores to the ones still computing.
            polls += 1;
            if polls < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(if polls < 1024 { 20 } else { 500 }));
            }
        }
    }
}

impl Group for MpiGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_reduce_sum(&self, what: &str, data: &mut [f32]) -> Result<()> {
        let _one_at_a_time = self.serialise();
        let send = data.to_vec();
        mpi::request::scope(|scope| {
            let r = self.world.immediate_all_reduce_into(
                scope,
                &send[..],
                &mut *data,
                SystemOperation::sum(),
            );
            self.wait(r, what);
        });
        Ok(())
    }

    fn all_reduce_sum_f64(&self, what: &str, data: &mut [f64]) -> Result<()> {
        let _one_at_a_time = self.serialise();
        let send = data.to_vec();
        mpi::request::scope(|scope| {
            let r = self.world.immediate_all_reduce_into(
                scope,
                &send[..],
                &mut *data,
                SystemOperation::sum(),
            );
            self.wait(r, what);
        });
        Ok(())
    }

    fn all_gather(&self, what: &str, mine: &[u8]) -> Result<Vec<Vec<u8>>> {
        let _one_at_a_time = self.serialise();
        let mut all = vec![0u8; mine.len() * self.size];
        mpi::request::scope(|scope| {
            let r = self
                .world
                .immediate_all_gather_into(scope, mine, &mut all[..]);
            self.wait(r, what);
        });
        Ok(all.chunks(mine.len().max(1)).map(<[u8]>::to_vec).collect())
    }

    fn abort(&self, code: i32) -> ! {
        // MPI_Abort may come from any thread; it does not wait for the lock (a collective
        // that hangs holds it)
        self.world.abort(code)
    }
}
