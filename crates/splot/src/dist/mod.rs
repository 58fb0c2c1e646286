//! Data-parallel training: the same run on several processes ("ranks"), each on its shard of
//! every batch, with the gradients averaged before each step — PyTorch's
//! `DistributedDataParallel` semantics, over MPI (the `mpi` cargo feature; `mpirun -n N
//! splot TASK train …`).
//!
//! - **Data**: [`crate::data::Loader::shard`] gives rank `r` of `N` the positions `r, r + N,
//!   r + 2N, …` of the epoch's order, which every rank shuffles alike from `(seed, epoch)`
//!   and pads to a multiple of `N` by repeating its start (`DistributedSampler`). The batch
//!   size of a run is the *global* batch: each rank takes `batch_size / N` of it, so that
//!   batch `b` on `N` ranks is the same images as batch `b` on one rank, with the same
//!   random transforms (they are drawn from the global position).
//! - **Gradients**: after every backward pass, [`average_gradients`] sums the trainable
//!   parameters' gradients over the ranks in flattened buckets of about 25 MB
//!   ([`BUCKET_BYTES`], as DDP) and divides by `N`; the step's loss and statistics travel
//!   in one more small reduction, so that every rank sees the global values (and stops
//!   together on a NaN or a Ctrl-C).
//! - **Batch norm**: statistics per rank by default; with [`Options::sync_batch_norm`]
//!   the batch statistics (forward) and their gradient terms (backward) are summed over all
//!   ranks, as `SyncBatchNorm`, so a run on `N` ranks equals one rank with the global batch.
//! - **Files**: rank 0 alone writes checkpoints, `metrics.csv` and progress; every rank
//!   evaluates (the same weights give the same metrics), so none waits on another.
//! - **Failures**: each collective waits at most [`Options::timeout`]; a rank that died or
//!   hangs ends the job with an error that says so, instead of a hang.
//!
//! Without the `mpi` feature there is only one rank, and [`current`] is `None`.

#[cfg(feature = "mpi")]
pub mod mpi;

use crate::autograd::Gradients;
use crate::error::{Error, Result};
use crate::nn::NamedTensor;
use crate::tensor::Tensor;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// Gradients are summed in flattened buckets of at most this many bytes (DDP's
/// `bucket_cap_mb` default, 25 MB).
pub const BUCKET_BYTES: usize = 25 * 1024 * 1024;

/// The ranks of a run, and the reductions the loop needs between them.
pub trait Group: Send + Sync {
    /// This process's rank, from 0.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn size(&self) -> usize;
    /// Replaces `data` on every rank by its elementwise sum over the ranks; `what` names
    /// the reduction in errors (a timeout, a failed collective).
    fn all_reduce_sum(&self, what: &str, data: &mut [f32]) -> Result<()>;
    /// The same in double precision (losses, counts, batch-norm statistics).
    fn all_reduce_sum_f64(&self, what: &str, data: &mut [f64]) -> Result<()>;
    /// Every rank's `mine`, in rank order (all of the same length).
    fn all_gather(&self, what: &str, mine: &[u8]) -> Result<Vec<Vec<u8>>>;
    /// Ends every rank of the job at once with exit code `code` (after an error on one
    /// rank, so that the others do not wait for it).
    fn abort(&self, code: i32) -> !;
}

/// How a data-parallel run behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// Sum batch-norm statistics over the ranks (`SyncBatchNorm`) instead of per rank.
    pub sync_batch_norm: bool,
    /// How long one collective may wait for the other ranks before the job ends with an
    /// error (a rank died or hangs).
    pub timeout: Duration,
}

impl Default for Options {
    /// Per-rank batch norm, 300 s timeout.
    fn default() -> Self {
        Options {
            sync_batch_norm: false,
            timeout: Duration::from_secs(300),
        }
    }
}

struct Installed {
    group: Arc<dyn Group>,
    options: Options,
}

static CURRENT: OnceLock<Installed> = OnceLock::new();

/// Makes `group` the ranks of this process's training runs (once per process, as MPI is
/// initialised once).
pub fn install(group: Arc<dyn Group>, options: Options) -> Result<()> {
    CURRENT
        .set(Installed { group, options })
        .map_err(|_| Error::config("distributed", "the ranks of this process are already set"))
}

/// The ranks of this process, when it is one of several; `None` for a single process.
pub fn current() -> Option<(&'static dyn Group, Options)> {
    CURRENT
        .get()
        .filter(|i| i.group.size() > 1)
        .map(|i| (&*i.group as &dyn Group, i.options))
}

/// Whether this process may write the run's files and report progress: rank 0, or the only
/// process.
pub fn is_root() -> bool {
    current().is_none_or(|(g, _)| g.rank() == 0)
}

/// Ends the whole job with exit code `code` when this process is one of several ranks
/// (MPI_Abort), so that one rank's error does not leave the others waiting; returns when
/// there is only one process.
pub fn abort_if_distributed(code: i32) {
    if let Some((group, _)) = current() {
        group.abort(code);
    }
}

/// The number of processes an MPI launcher (`mpirun`, `srun`) started this one among, from
/// the environment it sets; `None` when it was started alone.
pub fn launched_ranks() -> Option<usize> {
    [
        "OMPI_COMM_WORLD_SIZE",
        "PMI_SIZE",
        "PMIX_SIZE",
        "MPI_LOCALNRANKS",
    ]
    .iter()
    .find_map(|k| std::env::var(k).ok()?.parse::<usize>().ok())
    .filter(|&n| n > 1)
}

/// Checks that every rank runs the same configuration (`fingerprint`: the config and the
/// task's settings as text): an error on every rank when one differs, naming the ranks and,
/// on rank 0, the first difference.
pub fn check_same_config(group: &dyn Group, fingerprint: &str) -> Result<()> {
    let hash = fnv1a(fingerprint.as_bytes()).to_le_bytes();
    let all = group.all_gather("the configuration check", &hash)?;
    let differ: Vec<usize> = (0..all.len()).filter(|&r| all[r] != all[0]).collect();
    if differ.is_empty() {
        return Ok(());
    }
    Err(Error::config(
        "distributed",
        format!(
            "the ranks were started with different configurations: rank(s) {differ:?} differ \
             from rank 0 ({} ranks in all); start every rank with the same arguments",
            all.len()
        ),
    ))
}

/// 64-bit FNV-1a of `bytes` (a fingerprint, not a cryptographic hash).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Averages the gradients of `params` over the ranks of `group`, in place, in buckets of at
/// most [`BUCKET_BYTES`] taken in the parameters' reverse order (the order backward
/// finishes them, as DDP). A parameter without a gradient on a rank counts as zero there;
/// one without a gradient on every rank stays without one. `scalars` (the step's loss and
/// statistics) are summed over the ranks in the same round.
pub fn average_gradients(
    group: &dyn Group,
    params: &[NamedTensor],
    grads: &mut Gradients,
    scalars: &mut [f64],
) -> Result<()> {
    let n = group.size() as f32;
    // Which parameters have a gradient somewhere, with the scalars in one reduction.
    let mut small: Vec<f64> = scalars.to_vec();
    small.extend(
        params
            .iter()
            .map(|p| grads.get(&p.tensor).is_some() as u8 as f64),
    );
    group.all_reduce_sum_f64("the step's loss", &mut small)?;
    scalars.copy_from_slice(&small[..scalars.len()]);
    let present = &small[scalars.len()..];
    let order: Vec<usize> = (0..params.len())
        .rev()
        .filter(|&i| present[i] > 0.0)
        .collect();
    let cap = BUCKET_BYTES / std::mem::size_of::<f32>();
    let mut start = 0;
    while start < order.len() {
        // One bucket: as many parameters as fit (at least one).
        let mut end = start;
        let mut len = 0;
        while end < order.len() && (end == start || len + params[order[end]].tensor.numel() <= cap)
        {
            len += params[order[end]].tensor.numel();
            end += 1;
        }
        let mut flat = Vec::with_capacity(len);
        for &i in &order[start..end] {
            let t = &params[i].tensor;
            match grads.get(t) {
                Some(g) => flat.extend_from_slice(&g.data()),
                None => flat.resize(flat.len() + t.numel(), 0.0),
            }
        }
        group.all_reduce_sum("the gradient all-reduce", &mut flat)?;
        let mut at = 0;
        for &i in &order[start..end] {
            let t = &params[i].tensor;
            let g: Vec<f32> = flat[at..at + t.numel()].iter().map(|v| v / n).collect();
            at += t.numel();
            grads.insert(t, Tensor::from_vec(g, t.shape())?)?;
        }
        start = end;
    }
    Ok(())
}

/// The reduction batch norm uses for synchronised statistics while a data-parallel run
/// trains (see [`Options::sync_batch_norm`]).
type StatReducer = Arc<dyn Fn(&str, &mut [f64]) -> Result<()> + Send + Sync>;

static SYNC_BATCH_NORM: RwLock<Option<StatReducer>> = RwLock::new(None);

/// While alive, batch norm in training mode sums its per-channel statistics (forward) and
/// their gradient terms (backward) over the ranks of the group it was made with.
pub struct SyncBatchNormGuard(());

impl SyncBatchNormGuard {
    /// Turns synchronised batch norm on over `group` until dropped.
    pub fn new(group: &'static dyn Group) -> Self {
        let reduce: StatReducer = Arc::new(move |what, data| group.all_reduce_sum_f64(what, data));
        *SYNC_BATCH_NORM.write().unwrap_or_else(|e| e.into_inner()) = Some(reduce);
        SyncBatchNormGuard(())
    }
}

impl Drop for SyncBatchNormGuard {
    fn drop(&mut self) {
        *SYNC_BATCH_NORM.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Sums `data` over the ranks when synchronised batch norm is on; returns whether it did.
pub(crate) fn sync_batch_norm_stats(what: &str, data: &mut [f64]) -> Result<bool> {
    let reduce = SYNC_BATCH_NORM
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    match reduce {
        Some(r) => r(what, data).map(|()| true),
        None => Ok(false),
    }
}
