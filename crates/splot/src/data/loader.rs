//! [`Loader`]: batches of any [`Dataset`] through a transform [`Pipeline`], shuffled per
//! epoch, decoded and transformed on worker threads.
//!
//! Each sample is read (decoded, for files), turned into an [`Item`], run through the
//! pipeline's transforms with a generator seeded from `(seed, epoch, position in the
//! epoch)`, normalised, and collated by target kind ([`super::collate`]). The order and
//! every random draw of epoch `e` depend only on `(seed, e)`: a resumed run reproduces the
//! batches exactly, whatever was iterated before and however many workers build them.
//!
//! [`Loader::new`] is the MNIST loader of old over an [`ImageDataset`]: its pipeline is
//! [`Pipeline::digits`] — (1) an optional random affine distortion ([`Augment`], after
//! LeCun et al. 1998) onto (2) a canvas padded by `pad` black pixels on each side, then
//! (3) `v = (pixel / 255 − mean) / std`, padding included (a padding pixel is
//! `(0 − mean) / std`, like torchvision's `Pad` before `Normalize`). [`Loader::with_pipeline`]
//! takes any dataset and pipeline.
//!
//! An undecodable sample ends the epoch with an error naming the sample and its file;
//! with `skip_bad` it is counted, named in [`Batches::skipped`] and left out of its batch
//! (a batch left with no sample is not served).
//!
//! ```
//! use splot::data::{ImageDataset, Loader, LoaderConfig};
//! let data = ImageDataset::new(vec![0; 10 * 28 * 28], vec![3; 10], 28, 28)?;
//! let loader = Loader::new(data, LoaderConfig { batch_size: 4, pad: 2, ..Default::default() })?;
//! let shapes: Vec<_> = loader.epoch(0).map(|b| Ok(b?.images.shape().to_vec())).collect::<splot::Result<_>>()?;
//! assert_eq!(shapes, [vec![4, 1, 32, 32], vec![4, 1, 32, 32], vec![2, 1, 32, 32]]);
//! # Ok::<(), splot::Error>(())
//! ```

pub use super::transforms::Augment;

use super::batch::Batch;
use super::collate::collate;
use super::dataset::ImageDataset;
use super::source::Dataset;
use super::transforms::{Item, Pipeline};
use crate::error::{Error, Result};
use crate::tensor::Rng;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// How a [`Loader`] batches, orders and (for [`Loader::new`]) transforms the images.
#[derive(Clone, Debug, PartialEq)]
pub struct LoaderConfig {
    /// Images per batch (at least 1).
    pub batch_size: usize,
    /// Shuffle the order anew each epoch; otherwise the dataset's order.
    pub shuffle: bool,
    /// Seed of the shuffles and the transforms' draws.
    pub seed: u64,
    /// [`Loader::new`]: mean subtracted after scaling pixels to `[0, 1]` (MNIST:
    /// [`super::mnist::MNIST_MEAN`]). Must stay 0 with [`Loader::with_pipeline`].
    pub mean: f32,
    /// [`Loader::new`]: standard deviation divided by after subtracting the mean (MNIST:
    /// [`super::mnist::MNIST_STD`]); positive. Must stay 1 with a pipeline.
    pub std: f32,
    /// [`Loader::new`]: black pixels added on each side (2 makes 28×28 into LeNet-5's
    /// 32×32). Must stay 0 with a pipeline.
    pub pad: usize,
    /// [`Loader::new`]: a random distortion per image, or none. None with a pipeline.
    pub augment: Option<Augment>,
    /// Drop the last batch of an epoch when it is smaller than `batch_size`.
    pub drop_last: bool,
    /// Batches prepared ahead of the one asked for, at least one per worker; 0 prepares
    /// each batch on the calling thread when it is asked for, with no worker.
    pub prefetch: usize,
    /// Threads that read, decode, transform and collate batches (each builds whole
    /// batches); 0 works on the calling thread. The batches are the same for any number.
    pub workers: usize,
    /// Skip samples that cannot be read (counted and named in [`Batches::skipped`])
    /// instead of ending the epoch with an error.
    pub skip_bad: bool,
    /// Pad images of different sizes to the batch's largest (bottom and right; sizes in
    /// [`Batch::sizes`]) instead of refusing them.
    pub pad_to_largest: bool,
}

impl Default for LoaderConfig {
    /// Batches of 64, shuffled with seed 0, pixels scaled to `[0, 1]` (mean 0, std 1), no
    /// padding, no augmentation, last partial batch kept, 2 batches prefetched by 2
    /// workers, bad samples an error, images of one size.
    fn default() -> Self {
        LoaderConfig {
            batch_size: 64,
            shuffle: true,
            seed: 0,
            mean: 0.0,
            std: 1.0,
            pad: 0,
            augment: None,
            drop_last: false,
            prefetch: 2,
            workers: 2,
            skip_bad: false,
            pad_to_largest: false,
        }
    }
}

/// A sample left out of its batch by `skip_bad`.
#[derive(Clone, Debug, PartialEq)]
pub struct Skipped {
    /// Its position in the dataset.
    pub index: usize,
    /// Its file or entry.
    pub entry: String,
    /// Why it could not be read.
    pub error: String,
}

/// Batches over a [`Dataset`]; see the module documentation.
#[derive(Clone)]
pub struct Loader {
    data: Arc<dyn Dataset>,
    pipeline: Arc<Pipeline>,
    config: LoaderConfig,
    input_size: Option<(usize, usize)>,
    /// (rank, ranks): this loader serves positions `rank, rank + ranks, …` of each epoch.
    shard: (usize, usize),
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("samples", &self.data.len())
            .field("pipeline", &self.pipeline)
            .field("config", &self.config)
            .finish()
    }
}

impl Loader {
    /// A loader over IDX digits with the pipeline of `config` ([`Pipeline::digits`]); an
    /// error when the configuration cannot work (batch size 0, a standard deviation that
    /// is not positive, distortion ranges that are negative, not finite, or a scale range
    /// of 1 or more).
    pub fn new(data: impl Into<Arc<ImageDataset>>, config: LoaderConfig) -> Result<Loader> {
        let bad = |msg: String| Err(Error::config("Loader", msg));
        if !(config.std.is_finite() && config.std > 0.0 && config.mean.is_finite()) {
            return bad(format!(
                "normalisation needs a finite mean and a positive std, got mean {} std {}",
                config.mean, config.std
            ));
        }
        if let Some(a) = config.augment {
            a.check("Loader")?;
        }
        let data: Arc<ImageDataset> = data.into();
        let pipeline = Pipeline::digits(config.pad, config.augment, config.mean, config.std)?;
        let input_size = Some((data.rows(), data.cols()));
        Loader::build(data, pipeline, config, input_size)
    }

    /// A loader over any dataset through `pipeline`. The digit settings of `config`
    /// (`mean`, `std`, `pad`, `augment`) must keep their defaults: their transforms belong
    /// in the pipeline.
    pub fn with_pipeline(
        data: Arc<dyn Dataset>,
        pipeline: Pipeline,
        config: LoaderConfig,
    ) -> Result<Loader> {
        let d = LoaderConfig::default();
        if (config.mean, config.std, config.pad, config.augment)
            != (d.mean, d.std, d.pad, d.augment)
        {
            return Err(Error::config(
                "Loader",
                "mean, std, pad and augment configure Loader::new; with a pipeline, use its \
                 Normalize, Pad and Distort",
            ));
        }
        Loader::build(data, pipeline, config, None)
    }

    fn build(
        data: Arc<dyn Dataset>,
        pipeline: Pipeline,
        config: LoaderConfig,
        input_size: Option<(usize, usize)>,
    ) -> Result<Loader> {
        if config.batch_size == 0 {
            return Err(Error::config("Loader", "batch_size must be at least 1"));
        }
        Ok(Loader {
            data,
            pipeline: Arc::new(pipeline),
            config,
            input_size,
            shard: (0, 1),
        })
    }

    /// Rank `rank`'s share of this loader among `ranks` data-parallel ranks, with
    /// `DistributedSampler`'s semantics: every rank shuffles epoch `e` alike, the order is
    /// padded to a multiple of `ranks` by repeating its start, and rank `r` serves its
    /// positions `r, r + ranks, r + 2·ranks, …` in batches of `batch_size / ranks`. So the
    /// batch size stays the global one: batch `b` of the ranks together holds the same
    /// images, with the same random transforms, as batch `b` of the whole loader (when the
    /// data fills the last batch). An error when `batch_size` is not a multiple of `ranks`.
    pub fn shard(&self, rank: usize, ranks: usize) -> Result<Loader> {
        if self.shard != (0, 1) {
            return Err(Error::config("Loader", "this loader is already a shard"));
        }
        if ranks == 0 || rank >= ranks {
            return Err(Error::config(
                "Loader",
                format!("rank {rank} of {ranks} ranks does not exist"),
            ));
        }
        if self.config.batch_size % ranks != 0 {
            return Err(Error::config(
                "Loader",
                format!(
                    "the batch size {} is the global batch of all ranks and must be a multiple \
                     of the {ranks} ranks",
                    self.config.batch_size
                ),
            ));
        }
        let mut shard = self.clone();
        shard.config.batch_size /= ranks;
        shard.shard = (rank, ranks);
        Ok(shard)
    }

    /// The configuration.
    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.data
    }

    /// The transforms.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Batches per epoch: `⌈n / batch_size⌉`, or `⌊n / batch_size⌋` with `drop_last`.
    /// (For a [`Loader::shard`]: of its `⌈n / ranks⌉` positions, in its batches.)
    pub fn len_batches(&self) -> usize {
        let (n, b) = (self.samples(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// Height and width of the images in a batch, when the pipeline fixes them (digits:
    /// `(rows + 2·pad, cols + 2·pad)`).
    pub fn image_size(&self) -> Option<(usize, usize)> {
        self.pipeline.output_size(self.input_size)
    }

    /// The dataset indices of epoch `epoch` in the order they are served (all of them, the
    /// ones `drop_last` leaves out at the end included).
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        self.plan(epoch).order
    }

    /// The batches of epoch `epoch`. With workers and `prefetch > 0` they are prepared on
    /// worker threads, at most `max(prefetch, workers)` ahead of the one asked for;
    /// dropping the iterator early stops and joins them.
    pub fn epoch(&self, epoch: usize) -> Batches {
        let plan = Arc::new(self.plan(epoch));
        let total = self.len_batches();
        let (workers, prefetch) = (self.config.workers, self.config.prefetch);
        let source = if workers == 0 || prefetch == 0 {
            Source::Inline { plan }
        } else {
            Source::Workers(Workers::start(plan, total, workers, prefetch.max(workers)))
        };
        Batches {
            source,
            next: 0,
            total,
            skipped: Vec::new(),
            failed: false,
            skip_bad: self.config.skip_bad,
        }
    }

    /// Samples an epoch serves: all of them, or a shard's `⌈n / ranks⌉`.
    fn samples(&self) -> usize {
        self.data.len().div_ceil(self.shard.1)
    }

    /// What epoch `epoch` does: its order and the seed its samples draw from.
    fn plan(&self, epoch: usize) -> Plan {
        let golden = (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = Rng::seed(self.config.seed ^ golden);
        let mut order: Vec<usize> = (0..self.data.len()).collect();
        if self.config.shuffle {
            // Fisher–Yates.
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
        }
        let (rank, ranks) = self.shard;
        let positions: Vec<usize> = if order.is_empty() {
            Vec::new()
        } else {
            (rank..self.samples() * ranks).step_by(ranks).collect()
        };
        let order = positions.iter().map(|&p| order[p % order.len()]).collect();
        Plan {
            data: Arc::clone(&self.data),
            pipeline: Arc::clone(&self.pipeline),
            config: self.config.clone(),
            order,
            positions,
            sample_seed: rng.next_u64(),
        }
    }
}

/// Everything needed to build any batch of one epoch, on any thread.
struct Plan {
    data: Arc<dyn Dataset>,
    pipeline: Arc<Pipeline>,
    config: LoaderConfig,
    order: Vec<usize>,
    /// The position of each of `order`'s samples in the whole epoch (`0, 1, 2, …` but for a
    /// shard): their random transforms are drawn from it.
    positions: Vec<usize>,
    sample_seed: u64,
}

/// A built batch (`None` when `skip_bad` left it empty) and the samples it skipped.
type Built = (Result<Option<Batch>>, Vec<Skipped>);

impl Plan {
    /// The item of the sample at position `pos` of the epoch.
    fn item(&self, pos: usize) -> Result<Item> {
        let i = self.order[pos];
        let mix = (self.positions[pos] as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut rng = Rng::seed(self.sample_seed ^ mix);
        let sample = self.data.get(i)?;
        self.pipeline.apply(Item::from_sample(sample)?, &mut rng)
    }

    /// Batch `b` of the epoch.
    fn batch(&self, b: usize) -> Built {
        let cfg = &self.config;
        let start = b * cfg.batch_size;
        let end = (start + cfg.batch_size).min(self.order.len());
        let (mut items, mut indices, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
        for pos in start..end {
            let i = self.order[pos];
            match self.item(pos) {
                Ok(item) => {
                    items.push(item);
                    indices.push(i);
                }
                Err(e) if cfg.skip_bad => skipped.push(Skipped {
                    index: i,
                    entry: self.data.describe(i),
                    error: e.to_string(),
                }),
                Err(e) => return (Err(self.named(i, e)), skipped),
            }
        }
        if items.is_empty() {
            return (Ok(None), skipped);
        }
        let describe = |i: usize| self.data.describe(i);
        let batch = collate(
            items,
            indices,
            self.pipeline.normalize(),
            cfg.pad_to_largest,
            &describe,
        );
        (batch.map(Some), skipped)
    }

    /// `e` with the sample it came from: its index, and its file when `e` does not say.
    fn named(&self, i: usize, e: Error) -> Error {
        let what = self.data.describe(i);
        let entry = if e.to_string().contains(&what) {
            format!("sample {i}")
        } else {
            format!("sample {i} ({what})")
        };
        Error::Sample {
            entry,
            source: Box::new(e),
        }
    }
}

/// The state the workers and the consumer of one epoch share.
struct State {
    /// The next batch a worker may take up.
    next_claim: usize,
    /// Batches handed to the consumer so far.
    taken: usize,
    /// Finished batches not yet taken (a panic of a worker is kept as its payload).
    done: BTreeMap<usize, std::thread::Result<Built>>,
    /// Set when the iterator is dropped.
    stop: bool,
}

/// Worker threads building the batches of one epoch, at most `ahead` not yet taken.
struct Workers {
    shared: Arc<(Mutex<State>, Condvar)>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    fn start(plan: Arc<Plan>, total: usize, workers: usize, ahead: usize) -> Workers {
        let shared = Arc::new((
            Mutex::new(State {
                next_claim: 0,
                taken: 0,
                done: BTreeMap::new(),
                stop: false,
            }),
            Condvar::new(),
        ));
        let handles = (0..workers.min(total.max(1)))
            .map(|k| {
                let (plan, shared) = (Arc::clone(&plan), Arc::clone(&shared));
                std::thread::Builder::new()
                    .name(format!("splot-loader-{k}"))
                    .spawn(move || Workers::run(&plan, &shared, total, ahead))
                    .expect("cannot spawn a loader thread")
            })
            .collect();
        Workers { shared, handles }
    }

    /// A worker's loop: claim the next batch when it is within `ahead` of the consumer,
    /// build it, hand it over.
    fn run(plan: &Plan, shared: &(Mutex<State>, Condvar), total: usize, ahead: usize) {
        let (lock, cvar) = shared;
        loop {
            let b = {
                let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
                while !s.stop && s.next_claim < total && s.next_claim >= s.taken + ahead {
                    s = cvar.wait(s).unwrap_or_else(|p| p.into_inner());
                }
                if s.stop || s.next_claim >= total {
                    return;
                }
                s.next_claim += 1;
                s.next_claim - 1
            };
            let built = catch_unwind(AssertUnwindSafe(|| plan.batch(b)));
            let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
            s.done.insert(b, built);
            cvar.notify_all();
        }
    }

    /// Waits for batch `b`.
    fn take(&self, b: usize) -> Built {
        let (lock, cvar) = &*self.shared;
        let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(built) = s.done.remove(&b) {
                s.taken = b + 1;
                cvar.notify_all();
                drop(s);
                return built.unwrap_or_else(|panic| resume_unwind(panic));
            }
            s = cvar.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for Workers {
    /// Tells the workers to stop and joins them.
    fn drop(&mut self) {
        let (lock, cvar) = &*self.shared;
        lock.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
        cvar.notify_all();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// Where the batches come from.
enum Source {
    /// Built on the calling thread when asked for.
    Inline { plan: Arc<Plan> },
    /// Built ahead by worker threads.
    Workers(Workers),
}

/// The batches of one epoch, from [`Loader::epoch`], in order.
pub struct Batches {
    source: Source,
    next: usize,
    total: usize,
    skipped: Vec<Skipped>,
    failed: bool,
    skip_bad: bool,
}

impl Batches {
    /// Batches still to come (fewer when `skip_bad` leaves a batch with no sample).
    pub fn len(&self) -> usize {
        if self.failed {
            0
        } else {
            self.total - self.next
        }
    }

    /// True when no batch is left.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples `skip_bad` left out of the batches served so far, in order.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }
}

impl Iterator for Batches {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        while !self.failed && self.next < self.total {
            let b = self.next;
            self.next += 1;
            let (batch, skipped) = match &self.source {
                Source::Inline { plan } => plan.batch(b),
                Source::Workers(w) => w.take(b),
            };
            self.skipped.extend(skipped);
            match batch {
                Ok(Some(batch)) => return Some(Ok(batch)),
                Ok(None) => continue,
                Err(e) => {
                    // An error ends the epoch.
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let sure = if self.skip_bad { 0 } else { self.len() };
        (sure, Some(self.len()))
    }
}
