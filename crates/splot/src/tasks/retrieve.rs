//! Retrieval by learned features (the lecture's AlexNet slide: the nearest neighbours of an
//! image's last hidden layer).
//! - Data: any classification layout ([`ClassifyData`]); an [`Index`] holds one split's
//!   L2-normalised features of one layer, with each image's entry (its file) and label,
//!   stored as safetensors (`features` `[n, d]`, `labels` `[n]`, the rest as metadata).
//! - Model: any classifier checkpoint or zoo network; features are a layer's output
//!   ([`crate::nn::Module::forward_to`], nested names such as `classifier.5` allowed), or
//!   `pixels`, the prepared input itself.
//! - Search: exact cosine similarity (inner product of unit vectors) on the GEMM, queries
//!   and gallery in blocks, with a top-k selection per query that never sorts the gallery
//!   ([`search`]). Metric: precision@1, precision@10 and mAP with "same class" as
//!   relevance ([`evaluate`]).
//! - CLI: `splot index`, `splot search`.

use super::classify::{match_channels, ClassifyData};
use crate::cpu::gemm::MatRef;
use crate::data::{Image, Loader};
use crate::error::{Error, Result};
use crate::io::Metadata;
use crate::nn::{self, Mode, Module, Sequential};
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::path::Path;

/// The layer name that means "the prepared input itself" (raw pixels).
pub const PIXELS: &str = "pixels";

/// Where an index's features came from: what a query must be computed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extractor {
    /// The network's name (`lenet5`, `resnet18`).
    pub model: String,
    /// The checkpoint or weights file, or `random:SEED` for an untrained network.
    pub weights: String,
    /// FNV-1a 64 of every parameter and buffer's bits, in `state_dict` order (hex): two
    /// indexes compare only when it is equal.
    pub fingerprint: String,
    /// The layer whose output is the feature ([`PIXELS`]: the input).
    pub layer: String,
    /// The input shape `[c, h, w]` the network takes.
    pub input: [usize; 3],
}

impl Extractor {
    /// The extractor of `net` (named `model`, weights from `weights`) at `layer`; an error
    /// listing the layers when `net` has no such layer.
    pub fn new(
        net: &Sequential,
        model: &str,
        weights: &str,
        layer: &str,
        input: [usize; 3],
    ) -> Result<Extractor> {
        if layer != PIXELS {
            let probe = Tensor::zeros(&[1, input[0], input[1], input[2]]);
            if crate::no_grad(|| net.forward_to(&probe, layer, Mode::Eval))?.is_none() {
                return Err(Error::config(
                    "index",
                    format!(
                        "{model} has no layer '{layer}'; its layers are {} (or '{PIXELS}'; \
                         nested ones as 'classifier.5')",
                        crate::train::layer_names(net).join(", ")
                    ),
                ));
            }
        }
        Ok(Extractor {
            model: model.to_string(),
            weights: weights.to_string(),
            fingerprint: fingerprint(net),
            layer: layer.to_string(),
            input,
        })
    }

    /// The network `weights` names, rebuilt: `checkpoint:PATH` (a checkpoint of `splot
    /// train`), `weights:PATH` (zoo network `model` with a safetensors file) or
    /// `random:SEED` (`model` untrained, initialised from SEED). An error when its weights
    /// are no longer those the index was built with (the file changed since).
    pub fn rebuild(&self) -> Result<Sequential> {
        let (net, _) = build_network(&self.model, &self.weights)?;
        let now = fingerprint(&net);
        if now != self.fingerprint {
            return Err(Error::config(
                "search",
                format!(
                    "the index was built with {} whose weights had fingerprint {}; they are now {}                      (the file changed since): rebuild the index",
                    self.describe(),
                    self.fingerprint,
                    now
                ),
            ));
        }
        Ok(net)
    }

    /// In words, for messages: `lenet5 (runs/a/best.safetensors) at f6`.
    pub fn describe(&self) -> String {
        format!("{} ({}) at {}", self.model, self.weights, self.layer)
    }

    /// An error unless `other` computes the same features (same weights, same layer).
    pub fn check_same(&self, other: &Extractor, what: &str) -> Result<()> {
        if self.fingerprint == other.fingerprint && self.layer == other.layer {
            return Ok(());
        }
        Err(Error::config(
            "search",
            format!(
                "{what}: the index holds features of {} but the queries' are of {}{}; build both \
                 with the same model and layer",
                self.describe(),
                other.describe(),
                if self.fingerprint != other.fingerprint {
                    " (different weights)"
                } else {
                    ""
                }
            ),
        ))
    }

    /// The L2-normalised features of `images` (`[n, c, h, w]`, prepared for the network):
    /// `[n, d]` row-major and `d`.
    pub fn features(&self, net: &Sequential, images: &Tensor) -> Result<(Vec<f32>, usize)> {
        let images = match_channels(images, self.input[0])?;
        let out = if self.layer == PIXELS {
            images
        } else {
            crate::no_grad(|| net.forward_to(&images, &self.layer, Mode::Eval))?
                .ok_or_else(|| Error::config("index", format!("no layer '{}'", self.layer)))?
        };
        let n = out.dim(0);
        let d = out.numel() / n.max(1);
        let mut v = out.to_vec();
        v.par_chunks_mut(d.max(1)).for_each(normalise);
        Ok((v, d))
    }
}

/// Scales `row` to unit L2 norm (a zero row stays zero).
fn normalise(row: &mut [f32]) {
    let norm = row.iter().map(|&x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        row.iter_mut().for_each(|x| *x /= norm);
    }
}

/// FNV-1a 64 over the bits of every parameter and buffer of `net`, as 16 hex digits.
pub fn fingerprint(net: &dyn Module) -> String {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for t in nn::named_tensors(net) {
        for b in t.name.bytes().chain(
            t.tensor
                .data()
                .iter()
                .flat_map(|v| v.to_bits().to_le_bytes()),
        ) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    format!("{h:016x}")
}

/// L2-normalised features of one split of a data set, with each image's entry and label.
#[derive(Clone, Debug)]
pub struct Index {
    /// `[n, dim]` row-major, each row of unit length (or zero).
    pub features: Vec<f32>,
    /// Feature length.
    pub dim: usize,
    /// The class of each image.
    pub labels: Vec<usize>,
    /// Each image's file (or `FILE#i` for an image inside an IDX file).
    pub entries: Vec<String>,
    /// The class names.
    pub classes: Vec<String>,
    /// The data set it was built from (as given to `splot index`) and its split.
    pub data: String,
    /// `train` or `val`.
    pub split: String,
    /// How the features were computed.
    pub extractor: Extractor,
}

impl Index {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the index holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Builds the index of `loader`'s images (in order) with `extractor` over `net`.
    pub fn build(
        net: &Sequential,
        extractor: Extractor,
        loader: &Loader,
        data: &ClassifyData,
        data_name: &str,
        split: &str,
    ) -> Result<Index> {
        let dataset = loader.dataset();
        if dataset.is_empty() {
            return Err(Error::config(
                "index",
                format!("the {split} split of {} holds no image", data.description),
            ));
        }
        let (mut features, mut labels, mut dim) = (Vec::new(), Vec::new(), 0);
        for batch in loader.epoch(0) {
            let batch = batch?;
            let (f, d) = extractor.features(net, &batch.images)?;
            dim = d;
            features.extend(f);
            labels.extend_from_slice(batch.labels()?);
        }
        let entries = (0..dataset.len()).map(|i| dataset.describe(i)).collect();
        Ok(Index {
            features,
            dim,
            labels,
            entries,
            classes: data.classes.clone(),
            data: data_name.to_string(),
            split: split.to_string(),
            extractor,
        })
    }

    /// Writes the index (atomically) as safetensors: `features` `[n, dim]`, `labels` `[n]`,
    /// and the entries, classes and extractor as metadata.
    pub fn save(&self, path: &Path) -> Result<()> {
        let e = &self.extractor;
        let meta: Metadata = [
            ("splot.kind", "index".to_string()),
            ("index.model", e.model.clone()),
            ("index.weights", e.weights.clone()),
            ("index.fingerprint", e.fingerprint.clone()),
            ("index.layer", e.layer.clone()),
            (
                "index.input",
                format!("{}x{}x{}", e.input[0], e.input[1], e.input[2]),
            ),
            ("index.data", self.data.clone()),
            ("index.split", self.split.clone()),
            ("index.classes", self.classes.join("\n")),
            ("index.entries", self.entries.join("\n")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let labels = self.labels.iter().map(|&l| l as f32).collect();
        crate::io::save(
            path,
            &[
                (
                    "features".into(),
                    Tensor::from_vec(self.features.clone(), &[self.len(), self.dim])?,
                ),
                ("labels".into(), Tensor::from_vec(labels, &[self.len()])?),
            ],
            &meta,
        )
    }

    /// Reads an index written by [`Index::save`]; a file that is not one, or whose parts
    /// disagree, is an error naming the file and what is wrong.
    pub fn load(path: &Path) -> Result<Index> {
        let (tensors, meta) = crate::io::load(path)?;
        let bad = |msg: String| Error::format(path, msg);
        if meta.get("splot.kind").map(String::as_str) != Some("index") {
            return Err(bad(
                "not an index of `splot index` (no splot.kind = index in its metadata)".into(),
            ));
        }
        let get = |k: &str| {
            meta.get(k)
                .cloned()
                .ok_or_else(|| bad(format!("the index's metadata lacks '{k}'")))
        };
        let tensor = |name: &str| {
            tensors
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.clone())
                .ok_or_else(|| bad(format!("the index lacks the tensor '{name}'")))
        };
        let features = tensor("features")?;
        let labels = tensor("labels")?;
        if features.ndim() != 2 || labels.ndim() != 1 || labels.dim(0) != features.dim(0) {
            return Err(bad(format!(
                "features {:?} and labels {:?} do not describe the same images",
                features.shape(),
                labels.shape()
            )));
        }
        let n = features.dim(0);
        let entries: Vec<String> = get("index.entries")?
            .split('\n')
            .map(String::from)
            .collect();
        if entries.len() != n {
            return Err(bad(format!(
                "{} entries for {n} feature rows",
                entries.len()
            )));
        }
        let input: Vec<usize> = get("index.input")?
            .split('x')
            .map(|d| d.parse::<usize>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad("index.input is not CxHxW".into()))?;
        let [c, h, w] = input[..] else {
            return Err(bad("index.input is not CxHxW".into()));
        };
        let classes: Vec<String> = get("index.classes")?
            .split('\n')
            .map(String::from)
            .collect();
        let labels: Vec<usize> = labels.to_vec().iter().map(|&l| l as usize).collect();
        if let Some(l) = labels.iter().find(|&&l| l >= classes.len()) {
            return Err(bad(format!("label {l} but {} classes", classes.len())));
        }
        Ok(Index {
            dim: features.dim(1),
            features: features.to_vec(),
            labels,
            entries,
            classes,
            data: get("index.data")?,
            split: get("index.split")?,
            extractor: Extractor {
                model: get("index.model")?,
                weights: get("index.weights")?,
                fingerprint: get("index.fingerprint")?,
                layer: get("index.layer")?,
                input: [c, h, w],
            },
        })
    }
}

/// A neighbour: its row in the gallery and its cosine similarity to the query.
pub type Hit = (usize, f32);

/// Gallery rows per block of the similarity matrix (bounds the memory of one block).
const GALLERY_BLOCK: usize = 8192;
/// Queries per block.
const QUERY_BLOCK: usize = 256;

/// The `k` gallery rows of highest inner product with each query, best first (ties: the
/// lower row first): exact search. `gallery` is `[n, dim]` and `queries` `[q, dim]`,
/// row-major. Similarities are computed block by block on the GEMM (`QUERY_BLOCK ×
/// GALLERY_BLOCK` at a time) and each query keeps its best `k` in a small sorted list, so
/// the gallery is never sorted and memory stays bounded.
pub fn search(gallery: &[f32], queries: &[f32], dim: usize, k: usize) -> Vec<Vec<Hit>> {
    if dim == 0 {
        return Vec::new();
    }
    let (n, q) = (gallery.len() / dim, queries.len() / dim);
    let k = k.min(n);
    let mut out: Vec<Vec<Hit>> = vec![Vec::with_capacity(k + 1); q];
    for (qb, block_out) in out.chunks_mut(QUERY_BLOCK).enumerate() {
        let q0 = qb * QUERY_BLOCK;
        let rows = block_out.len();
        let qm = MatRef::row_major(&queries[q0 * dim..(q0 + rows) * dim], rows, dim);
        let mut scores = vec![0f32; rows * GALLERY_BLOCK];
        for g0 in (0..n).step_by(GALLERY_BLOCK) {
            let cols = GALLERY_BLOCK.min(n - g0);
            let gm = MatRef::row_major(&gallery[g0 * dim..(g0 + cols) * dim], cols, dim);
            let s = &mut scores[..rows * cols];
            crate::cpu::gemm::sgemm(qm, gm.t(), s, false);
            block_out
                .par_iter_mut()
                .zip(s.par_chunks(cols))
                .for_each(|(best, row)| keep_best(best, row, g0, k));
        }
    }
    out
}

/// Merges `row` (similarities of gallery rows `g0…`) into `best`, the sorted best `k`.
fn keep_best(best: &mut Vec<Hit>, row: &[f32], g0: usize, k: usize) {
    if k == 0 {
        return;
    }
    let mut worst = if best.len() == k {
        best[k - 1].1
    } else {
        f32::NEG_INFINITY
    };
    for (j, &s) in row.iter().enumerate() {
        // Strictly better than the k-th: a tie keeps the earlier row.
        if s > worst || (best.len() < k && s >= worst) {
            let at = best.partition_point(|&(_, b)| b >= s);
            best.insert(at, (g0 + j, s));
            best.truncate(k);
            if best.len() == k {
                worst = best[k - 1].1;
            }
        }
    }
}

/// Retrieval quality of queries against a gallery, "same class" as relevance.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrievalMetrics {
    /// Queries evaluated.
    pub queries: usize,
    /// Fraction of queries whose nearest neighbour has their class.
    pub precision_at_1: f64,
    /// Mean fraction of the 10 nearest neighbours that have the query's class.
    pub precision_at_10: f64,
    /// Mean average precision over the whole gallery ranking: for each query,
    /// `AP = (1/R) Σ_{i relevant} precision@rank(i)`, `R` the gallery images of its class.
    pub map: f64,
}

/// [`RetrievalMetrics`] of every query in `queries` against `gallery` (both built by the
/// same extractor, else an error naming both). The full ranking of the gallery is needed
/// for mAP: each query's similarities come from the GEMM in blocks; ties rank the lower
/// gallery row first.
pub fn evaluate(gallery: &Index, queries: &Index) -> Result<RetrievalMetrics> {
    gallery.extractor.check_same(&queries.extractor, "--eval")?;
    if gallery.dim != queries.dim {
        return Err(Error::config(
            "search",
            format!(
                "the gallery's features have {} values but the queries' {}",
                gallery.dim, queries.dim
            ),
        ));
    }
    let (n, dim) = (gallery.len(), gallery.dim);
    let mut per_class = vec![0usize; gallery.classes.len().max(1)];
    for &l in &gallery.labels {
        per_class[l] += 1;
    }
    let gm = MatRef::row_major(&gallery.features, n, dim);
    let (mut p1, mut p10, mut ap) = (0.0f64, 0.0f64, 0.0f64);
    for (qb, qlabels) in queries.labels.chunks(QUERY_BLOCK).enumerate() {
        let q0 = qb * QUERY_BLOCK;
        let rows = qlabels.len();
        let qm = MatRef::row_major(&queries.features[q0 * dim..(q0 + rows) * dim], rows, dim);
        let mut scores = vec![0f32; rows * n];
        crate::cpu::gemm::sgemm(qm, gm.t(), &mut scores, false);
        let sums: Vec<(f64, f64, f64)> = scores
            .par_chunks(n)
            .zip(qlabels.par_iter())
            .map(|(row, &label)| {
                let relevant = per_class.get(label).copied().unwrap_or(0);
                ranking_scores(row, &gallery.labels, label, relevant)
            })
            .collect();
        for (a, b, c) in sums {
            p1 += a;
            p10 += b;
            ap += c;
        }
    }
    let q = queries.len().max(1) as f64;
    Ok(RetrievalMetrics {
        queries: queries.len(),
        precision_at_1: p1 / q,
        precision_at_10: p10 / q,
        map: ap / q,
    })
}

/// Precision@1, precision@10 and average precision of one query's similarities `row` to
/// the gallery (labels `labels`), `relevant` gallery images having its class `label`.
fn ranking_scores(row: &[f32], labels: &[usize], label: usize, relevant: usize) -> (f64, f64, f64) {
    // One u64 per gallery row: the similarity's order-preserving bits, inverted so that an
    // ascending sort puts the highest first, then the row (ties: the lower row first).
    let mut order: Vec<u64> = row
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let bits = s.to_bits();
            let key = if bits >> 31 == 1 {
                !bits
            } else {
                bits | 1 << 31
            };
            (u64::from(!key) << 32) | i as u64
        })
        .collect();
    order.sort_unstable();
    let (mut hits, mut ap, mut p10) = (0usize, 0.0f64, 0usize);
    for (rank, &key) in order.iter().enumerate() {
        if labels[(key & 0xFFFF_FFFF) as usize] == label {
            hits += 1;
            ap += hits as f64 / (rank + 1) as f64;
            if rank < 10 {
                p10 += 1;
            }
            if hits == relevant {
                break;
            }
        }
    }
    let p1 = order
        .first()
        .is_some_and(|&key| labels[(key & 0xFFFF_FFFF) as usize] == label) as u8
        as f64;
    let ap = if relevant > 0 {
        ap / relevant as f64
    } else {
        0.0
    };
    (p1, p10 as f64 / 10.0_f64.min(row.len() as f64).max(1.0), ap)
}

/// The network that `weights` describes (see [`Extractor::rebuild`]) and its input shape.
pub fn build_network(model: &str, weights: &str) -> Result<(Sequential, [usize; 3])> {
    let bad = || {
        Error::config(
            "index",
            format!("'{weights}' is not checkpoint:PATH, weights:PATH or random:SEED"),
        )
    };
    let (kind, value) = weights.split_once(':').ok_or_else(bad)?;
    match kind {
        "checkpoint" => {
            let path = Path::new(value);
            crate::train::read_checkpoint(path)?.build_model(path)
        }
        "weights" => {
            let (net, input) = crate::models::build(model, 0.0, 0)?;
            crate::io::load_module(Path::new(value), &net)?;
            Ok((net, input))
        }
        "random" => {
            let seed = value.parse().map_err(|_| bad())?;
            crate::models::build(model, 0.0, seed)
        }
        _ => Err(bad()),
    }
}

/// The query beside its neighbours, each image scaled (nearest neighbour) into a
/// `tile × tile` square, a wider gap after the query; grey images drawn in grey.
pub fn neighbour_grid(query: &Image, neighbours: &[Image], tile: usize) -> Result<image::RgbImage> {
    if tile == 0 || tile > 4096 {
        return Err(Error::config(
            "search",
            format!("tile size {tile} must be 1 to 4096"),
        ));
    }
    let (gap, after_query) = (4usize, 16usize);
    let width =
        tile * (1 + neighbours.len()) + after_query + gap * neighbours.len().saturating_sub(1);
    let mut out =
        image::RgbImage::from_pixel(width as u32, tile as u32, image::Rgb([255, 255, 255]));
    let mut draw = |img: &Image, x0: usize| {
        let side = img.height.max(img.width);
        for ty in 0..tile {
            for tx in 0..tile {
                let (y, x) = (ty * side / tile, tx * side / tile);
                // centred: the shorter side is padded with white
                let (oy, ox) = ((side - img.height) / 2, (side - img.width) / 2);
                if y < oy || x < ox || y - oy >= img.height || x - ox >= img.width {
                    continue;
                }
                let (y, x) = (y - oy, x - ox);
                let plane = img.height * img.width;
                let at = |c: usize| img.data[c * plane + y * img.width + x];
                let rgb = if img.channels == 3 {
                    [at(0), at(1), at(2)]
                } else {
                    [at(0); 3]
                };
                out.put_pixel((x0 + tx) as u32, ty as u32, image::Rgb(rgb));
            }
        }
    };
    draw(query, 0);
    for (i, n) in neighbours.iter().enumerate() {
        draw(n, tile + after_query + i * (tile + gap));
    }
    Ok(out)
}
