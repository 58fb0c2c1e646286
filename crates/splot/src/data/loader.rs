//! [`Loader`]: batches of normalised, optionally padded and distorted images, shuffled per
//! epoch and prepared on a background thread.
//!
//! Each image goes through, in order:
//! 1. an optional random affine distortion ([`Augment`], after LeCun et al. 1998): rotation
//!    by θ, isotropic scaling by s and translation by t about the centre of the output
//!    canvas, sampled bilinearly with black (0) outside the image;
//! 2. zero padding of `pad` pixels on each side (the canvas is `rows + 2·pad` high);
//! 3. normalisation `v = (pixel / 255 − mean) / std`, padding included, so a padding pixel
//!    is `(0 − mean) / std` like torchvision's `Pad` before `Normalize`.
//!
//! The order and the distortions of epoch `e` depend only on `(seed, e)`: a resumed run
//! reproduces the batches exactly, whatever was iterated before, and whatever the thread
//! timing (every sample draws from its own generator).
//!
//! ```
//! use splot::data::{ImageDataset, Loader, LoaderConfig};
//! let data = ImageDataset::new(vec![0; 10 * 28 * 28], vec![3; 10], 28, 28)?;
//! let loader = Loader::new(data, LoaderConfig { batch_size: 4, pad: 2, ..Default::default() })?;
//! let shapes: Vec<_> = loader.epoch(0).map(|b| Ok(b?.images.shape().to_vec())).collect::<splot::Result<_>>()?;
//! assert_eq!(shapes, [vec![4, 1, 32, 32], vec![4, 1, 32, 32], vec![2, 1, 32, 32]]);
//! # Ok::<(), splot::Error>(())
//! ```

use super::batch::{Batch, BatchTargets};
use super::dataset::ImageDataset;
use crate::error::{Error, Result};
use crate::tensor::{Rng, Tensor};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Ranges of the random affine distortion drawn for every image, each uniformly in
/// `[-max, max]`. All zeros is the identity, equal to no augmentation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Augment {
    /// Largest translation along each axis, in pixels (drawn per axis).
    pub max_shift: f32,
    /// Largest rotation, in degrees.
    pub max_rotation_deg: f32,
    /// Largest relative change of size: 0.1 scales by a factor in `[0.9, 1.1]`. Below 1.
    pub max_scale: f32,
}

/// How a [`Loader`] batches, orders and transforms the images.
#[derive(Clone, Debug, PartialEq)]
pub struct LoaderConfig {
    /// Images per batch (at least 1).
    pub batch_size: usize,
    /// Shuffle the order anew each epoch; otherwise the dataset's order.
    pub shuffle: bool,
    /// Seed of the shuffles and distortions.
    pub seed: u64,
    /// Mean subtracted after scaling pixels to `[0, 1]` (MNIST: [`super::mnist::MNIST_MEAN`]).
    pub mean: f32,
    /// Standard deviation divided by after subtracting the mean (MNIST:
    /// [`super::mnist::MNIST_STD`]); positive.
    pub std: f32,
    /// Black pixels added on each side (2 makes 28×28 into LeNet-5's 32×32).
    pub pad: usize,
    /// A random distortion per image, or none.
    pub augment: Option<Augment>,
    /// Drop the last batch of an epoch when it is smaller than `batch_size`.
    pub drop_last: bool,
    /// Batches prepared ahead on the background thread; 0 prepares each batch on the
    /// calling thread when it is asked for, with no background thread.
    pub prefetch: usize,
}

impl Default for LoaderConfig {
    /// Batches of 64, shuffled with seed 0, pixels scaled to `[0, 1]` (mean 0, std 1), no
    /// padding, no augmentation, last partial batch kept, 2 batches prefetched.
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
        }
    }
}

/// Batches over an [`ImageDataset`]; see the module documentation.
#[derive(Clone, Debug)]
pub struct Loader {
    data: Arc<ImageDataset>,
    config: LoaderConfig,
}

impl Loader {
    /// A loader over `data`; an error when the configuration cannot work (batch size 0, a
    /// standard deviation that is not positive, distortion ranges that are negative, not
    /// finite, or a scale range of 1 or more).
    pub fn new(data: impl Into<Arc<ImageDataset>>, config: LoaderConfig) -> Result<Loader> {
        let bad = |msg: String| Err(Error::config("Loader", msg));
        if config.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        if !(config.std.is_finite() && config.std > 0.0 && config.mean.is_finite()) {
            return bad(format!(
                "normalisation needs a finite mean and a positive std, got mean {} std {}",
                config.mean, config.std
            ));
        }
        if let Some(a) = config.augment {
            let ranges = [a.max_shift, a.max_rotation_deg, a.max_scale];
            if ranges.iter().any(|r| !(r.is_finite() && *r >= 0.0)) || a.max_scale >= 1.0 {
                return bad(format!(
                    "augmentation ranges must be finite and ≥ 0, max_scale below 1: {a:?}"
                ));
            }
        }
        Ok(Loader {
            data: data.into(),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    /// The dataset.
    pub fn dataset(&self) -> &ImageDataset {
        &self.data
    }

    /// Batches per epoch: `⌈n / batch_size⌉`, or `⌊n / batch_size⌋` with `drop_last`.
    pub fn len_batches(&self) -> usize {
        let (n, b) = (self.data.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// Height and width of the images in a batch: `(rows + 2·pad, cols + 2·pad)`.
    pub fn image_size(&self) -> (usize, usize) {
        let p = 2 * self.config.pad;
        (self.data.rows() + p, self.data.cols() + p)
    }

    /// The dataset indices of epoch `epoch` in the order they are served (all of them, the
    /// ones `drop_last` leaves out at the end included).
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        self.plan(epoch).order
    }

    /// The batches of epoch `epoch`. With `prefetch > 0` they are prepared on a background
    /// thread, at most `prefetch` ahead; dropping the iterator early stops and joins that
    /// thread.
    pub fn epoch(&self, epoch: usize) -> Batches {
        let plan = self.plan(epoch);
        let remaining = self.len_batches();
        if self.config.prefetch == 0 {
            return Batches {
                source: Source::Inline { plan, next: 0 },
                remaining,
            };
        }
        let (tx, rx) = sync_channel(self.config.prefetch);
        let handle = std::thread::Builder::new()
            .name("splot-loader".into())
            .spawn(move || {
                for b in 0..remaining {
                    if tx.send(plan.batch(b)).is_err() {
                        return; // the iterator was dropped
                    }
                }
            })
            .expect("cannot spawn the loader thread");
        Batches {
            source: Source::Thread {
                rx: Some(rx),
                handle: Some(handle),
            },
            remaining,
        }
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
        Plan {
            data: Arc::clone(&self.data),
            config: self.config.clone(),
            order,
            sample_seed: rng.next_u64(),
        }
    }
}

/// Everything needed to build any batch of one epoch, on any thread.
struct Plan {
    data: Arc<ImageDataset>,
    config: LoaderConfig,
    order: Vec<usize>,
    sample_seed: u64,
}

impl Plan {
    /// Batch `b` of the epoch.
    fn batch(&self, b: usize) -> Batch {
        let cfg = &self.config;
        let start = b * cfg.batch_size;
        let end = (start + cfg.batch_size).min(self.order.len());
        let (rows, cols) = (self.data.rows(), self.data.cols());
        let (h, w) = (rows + 2 * cfg.pad, cols + 2 * cfg.pad);
        let mut pixels = vec![0.0f32; (end - start) * h * w];
        let mut labels = Vec::with_capacity(end - start);
        for (k, pos) in (start..end).enumerate() {
            let i = self.order[pos];
            let canvas = &mut pixels[k * h * w..(k + 1) * h * w];
            let image = self.data.image(i);
            match cfg.augment {
                None => place(image, rows, cols, cfg.pad, canvas),
                Some(a) => {
                    let mix = (pos as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
                    let mut rng = Rng::seed(self.sample_seed ^ mix);
                    warp(
                        image,
                        rows,
                        cols,
                        cfg.pad,
                        &Affine::draw(&a, &mut rng),
                        canvas,
                    );
                }
            }
            for v in canvas.iter_mut() {
                *v = (*v / 255.0 - cfg.mean) / cfg.std;
            }
            labels.push(self.data.label(i) as usize);
        }
        let n = end - start;
        Batch {
            images: Tensor::from_vec(pixels, &[n, 1, h, w]).expect("batch shape matches"),
            targets: BatchTargets::Classes(labels),
            indices: self.order[start..end].to_vec(),
        }
    }
}

/// One drawn distortion: rotation `angle` (radians), scale, translation `(ty, tx)`.
struct Affine {
    angle: f32,
    scale: f32,
    ty: f32,
    tx: f32,
}

impl Affine {
    /// Draws each parameter uniformly within the ranges of `a`.
    fn draw(a: &Augment, rng: &mut Rng) -> Affine {
        let angle = rng
            .uniform(-a.max_rotation_deg, a.max_rotation_deg)
            .to_radians();
        let scale = 1.0 + rng.uniform(-a.max_scale, a.max_scale);
        let ty = rng.uniform(-a.max_shift, a.max_shift);
        let tx = rng.uniform(-a.max_shift, a.max_shift);
        Affine {
            angle,
            scale,
            ty,
            tx,
        }
    }
}

/// Copies the byte image into the middle of the `(rows + 2·pad) × (cols + 2·pad)` canvas,
/// as raw values 0–255, leaving the border 0.
fn place(image: &[u8], rows: usize, cols: usize, pad: usize, canvas: &mut [f32]) {
    let w = cols + 2 * pad;
    for r in 0..rows {
        let dst = &mut canvas[(r + pad) * w + pad..(r + pad) * w + pad + cols];
        for (d, &s) in dst.iter_mut().zip(&image[r * cols..(r + 1) * cols]) {
            *d = s as f32;
        }
    }
}

/// Fills the canvas (raw values 0–255) with the image distorted by `t` about the canvas
/// centre `c`: output point `o = c + s·R(θ)·(i − c) + t`, so each output pixel samples
/// the input at `i = c + R(−θ)·(o − c − t) / s` (in canvas coordinates; the image sits at
/// offset `pad`), bilinearly, with 0 outside the image.
fn warp(image: &[u8], rows: usize, cols: usize, pad: usize, t: &Affine, canvas: &mut [f32]) {
    let (h, w) = (rows + 2 * pad, cols + 2 * pad);
    let (cy, cx) = ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0);
    let (sin, cos) = t.angle.sin_cos();
    let pixel = |y: isize, x: isize| -> f32 {
        if y < 0 || x < 0 || y >= rows as isize || x >= cols as isize {
            0.0
        } else {
            image[y as usize * cols + x as usize] as f32
        }
    };
    for oy in 0..h {
        for ox in 0..w {
            let (dy, dx) = (oy as f32 - cy - t.ty, ox as f32 - cx - t.tx);
            let sy = (-sin * dx + cos * dy) / t.scale + cy - pad as f32;
            let sx = (cos * dx + sin * dy) / t.scale + cx - pad as f32;
            let (y0, x0) = (sy.floor(), sx.floor());
            let (fy, fx) = (sy - y0, sx - x0);
            let (y0, x0) = (y0 as isize, x0 as isize);
            let top = (1.0 - fx) * pixel(y0, x0) + fx * pixel(y0, x0 + 1);
            let bottom = (1.0 - fx) * pixel(y0 + 1, x0) + fx * pixel(y0 + 1, x0 + 1);
            canvas[oy * w + ox] = (1.0 - fy) * top + fy * bottom;
        }
    }
}

/// The batches of one epoch, from [`Loader::epoch`], in order.
pub struct Batches {
    source: Source,
    remaining: usize,
}

/// Where the batches come from.
enum Source {
    /// Built on the calling thread (`prefetch == 0`).
    Inline { plan: Plan, next: usize },
    /// Built ahead by a background thread.
    Thread {
        rx: Option<Receiver<Batch>>,
        handle: Option<JoinHandle<()>>,
    },
}

impl Iterator for Batches {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        if self.remaining == 0 {
            return None;
        }
        let batch = match &mut self.source {
            Source::Inline { plan, next } => {
                *next += 1;
                plan.batch(*next - 1)
            }
            Source::Thread { rx, handle } => match rx.as_ref().map(Receiver::recv) {
                Some(Ok(batch)) => batch,
                _ => {
                    // The thread ended before sending every batch: it panicked.
                    rx.take();
                    if let Some(Err(panic)) = handle.take().map(JoinHandle::join) {
                        std::panic::resume_unwind(panic);
                    }
                    panic!("the loader thread stopped early");
                }
            },
        };
        self.remaining -= 1;
        Some(Ok(batch))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Batches {}

impl Drop for Batches {
    /// Closes the channel (so the thread's next send fails and it returns) and joins it.
    fn drop(&mut self) {
        if let Source::Thread { rx, handle } = &mut self.source {
            rx.take();
            if let Some(handle) = handle.take() {
                let _ = handle.join();
            }
        }
    }
}
