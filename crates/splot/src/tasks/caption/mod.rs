//! Image captioning: a CNN encoder and an LSTM language model.
//! - Data: COCO captions (`annotations/captions_{train,val}*.json` over the images), the
//!   digit scenes' captions by default ([`CaptionData`]); every caption of an image is a
//!   training target.
//! - Model ([`model`]): Show and Tell or Show, Attend and Tell over a small CNN or any zoo
//!   network cut before its pooling head; the vocabulary ([`text`]) is saved with it.
//! - Loss: teacher forcing, cross-entropy over the padded captions' real tokens (plus the
//!   attention model's doubly stochastic regulariser). Metrics ([`metrics`]): corpus
//!   BLEU-1…4 and CIDEr-D over all references, and the fraction of captions naming
//!   exactly the image's digits; decoding ([`decode`]): greedy and beam search.
//! - CLI: `splot caption train|eval|predict`.

pub mod decode;
pub mod metrics;
pub mod model;
pub mod picture;
pub mod text;

pub use decode::{beam_search, greedy, DecodeConfig, Hypothesis};
pub use model::{Architecture, CaptionModel, ModelConfig};
pub use text::{tokenize, Vocabulary};

use crate::data::coco_captions;
use crate::data::loader::Loader;
use crate::data::transforms::{Normalize, Pipeline, Resize, ToChannels};
use crate::data::{Batch, BatchTargets, Dataset, EntryTarget, FileDataset, Subset};
use crate::error::{Error, Result};
use crate::io::Metadata;
use crate::nn::{Mode, Module};
use crate::train::{read_checkpoint, Headline, StepLoss, Task, TrainConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Settings of a captioner beyond the run's [`TrainConfig`].
#[derive(Clone, Debug, PartialEq)]
pub struct CaptionOptions {
    /// Show and Tell or attention.
    pub architecture: Architecture,
    /// `small` or a zoo network.
    pub encoder: String,
    /// Images are resized to `image_size × image_size`.
    pub image_size: usize,
    /// Word embedding size.
    pub embed: usize,
    /// LSTM hidden size.
    pub hidden: usize,
    /// Attention size.
    pub attention: usize,
    /// Weight of the doubly stochastic regulariser.
    pub alpha_c: f32,
    /// Words seen fewer times in the training captions are `<unk>`.
    pub min_count: usize,
    /// The most words of a decoded caption.
    pub max_len: usize,
}

impl Default for CaptionOptions {
    /// Show and Tell over the small encoder at 64×64, embedding and hidden 256,
    /// attention 128, `λ = 1`, minimum count 1, 30 words.
    fn default() -> Self {
        CaptionOptions {
            architecture: Architecture::ShowTell,
            encoder: "small".into(),
            image_size: 64,
            embed: 256,
            hidden: 256,
            attention: 128,
            alpha_c: 1.0,
            min_count: 1,
            max_len: 30,
        }
    }
}

/// A captioning data set: its training and evaluation splits.
#[derive(Clone)]
pub struct CaptionData {
    /// The training split.
    pub train: Arc<FileDataset>,
    /// The evaluation split.
    pub val: Arc<FileDataset>,
    /// Where it came from, in words.
    pub description: String,
}

/// The captions of every entry of `data`, with an error naming an image without any.
fn check_captions(data: &FileDataset, file: &Path) -> Result<()> {
    if data.entries.is_empty() {
        return Err(Error::format(file, "the caption file lists no image"));
    }
    for e in &data.entries {
        match &e.target {
            EntryTarget::Captions(c) if !c.is_empty() => {}
            _ => {
                return Err(Error::format(
                    file,
                    format!(
                        "image {} ({}) has no caption in the file",
                        e.id,
                        e.image.display()
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// The captions file of split `split` (`train`, `val`) in `dir/annotations/`.
fn captions_file(dir: &Path, split: &str) -> Result<PathBuf> {
    let ann = dir.join("annotations");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&ann)
        .map_err(|e| Error::io(&ann, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(&format!("captions_{split}")) && n.ends_with(".json")
            })
        })
        .collect();
    found.sort();
    found.into_iter().next().ok_or_else(|| {
        Error::format(
            &ann,
            format!("no captions_{split}*.json here (a COCO captions directory has annotations/captions_train*.json and captions_val*.json)"),
        )
    })
}

/// The images folder of captions file `file` (`captions_train2017.json` → `train2017/`),
/// else `JPEGImages/` (the digit scenes), else `images/`.
fn images_dir(dir: &Path, file: &Path) -> PathBuf {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let split = stem.strip_prefix("captions_").unwrap_or(stem);
    [split, "JPEGImages", "images"]
        .iter()
        .map(|s| dir.join(s))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| dir.to_path_buf())
}

impl CaptionData {
    /// Opens a COCO captions directory: `annotations/captions_train*.json` and
    /// `annotations/captions_val*.json`, the images in the folder named after the split
    /// (`train2017/`), `JPEGImages/` or `images/`. Every image must have a caption.
    pub fn open(dir: &Path) -> Result<CaptionData> {
        let split = |name: &str| -> Result<Arc<FileDataset>> {
            let file = captions_file(dir, name)?;
            let data = coco_captions(&images_dir(dir, &file), &file)?;
            check_captions(&data, &file)?;
            Ok(Arc::new(data))
        };
        Ok(CaptionData {
            train: split("train")?,
            val: split("val")?,
            description: format!("COCO captions ({})", dir.display()),
        })
    }

    /// The digit scenes in `dir` (`annotations/captions_{train,val}.json` over
    /// `JPEGImages/`), written there first from the repository's MNIST when absent.
    /// Returns the data and whether it was written now.
    pub fn scenes(
        dir: &Path,
        config: &crate::data::scenes::ScenesConfig,
    ) -> Result<(CaptionData, bool)> {
        let made = !dir.join("annotations/captions_train.json").is_file();
        if made {
            let mnist = crate::data::Mnist::locate()?;
            crate::data::scenes::write_scenes(dir, &mnist, config)?;
        }
        let mut data = CaptionData::open(dir)?;
        data.description = format!("digit scenes ({})", dir.display());
        Ok((data, made))
    }

    /// Every training caption, for the vocabulary.
    pub fn train_captions(&self) -> Vec<&str> {
        captions_of(&self.train)
    }
}

/// Every caption of a file dataset's entries.
fn captions_of(data: &FileDataset) -> Vec<&str> {
    data.entries
        .iter()
        .flat_map(|e| match &e.target {
            EntryTarget::Captions(c) => c.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The captioning task: a model, its vocabulary, its loss and metrics.
pub struct Caption {
    model: CaptionModel,
    vocab: Vocabulary,
    options: CaptionOptions,
}

impl Caption {
    /// A new model for `vocab` as `options` and `config` (seed, dropout) say.
    pub fn new(
        config: &TrainConfig,
        options: &CaptionOptions,
        vocab: Vocabulary,
    ) -> Result<Caption> {
        let model = CaptionModel::new(&model_config(
            config.dropout,
            config.seed,
            options,
            vocab.len(),
        ))?;
        Ok(Caption {
            model,
            vocab,
            options: options.clone(),
        })
    }

    /// The model.
    pub fn captioner(&self) -> &CaptionModel {
        &self.model
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocabulary {
        &self.vocab
    }
}

fn model_config(dropout: f32, seed: u64, o: &CaptionOptions, vocab: usize) -> ModelConfig {
    ModelConfig {
        architecture: o.architecture,
        encoder: o.encoder.clone(),
        channels: 1,
        vocab,
        embed: o.embed,
        hidden: o.hidden,
        attention: o.attention,
        dropout,
        alpha_c: o.alpha_c,
        seed,
    }
}

/// The tokens of a batch's captions, one row per caption, and the image of each row;
/// captions of only unknown words are left out.
pub fn batch_tokens(
    vocab: &Vocabulary,
    batch: &Batch,
) -> Result<(crate::data::Tokens, Vec<usize>)> {
    let BatchTargets::Captions(caps) = &batch.targets else {
        return Err(Error::config(
            "caption",
            format!(
                "the batch's targets are not captions but {}",
                batch.targets.kind_name()
            ),
        ));
    };
    let (mut seqs, mut owners) = (Vec::new(), Vec::new());
    for (k, list) in caps.iter().enumerate() {
        for c in list {
            let ids = vocab.encode(c);
            if ids[1..ids.len() - 1].iter().all(|&t| t == text::UNK) {
                continue;
            }
            seqs.push(ids);
            owners.push(k);
        }
    }
    if seqs.is_empty() {
        return Err(Error::config(
            "caption",
            "no caption of this batch has a word of the vocabulary (empty captions, or only unknown words)",
        ));
    }
    Ok((crate::data::pad_tokens(&seqs, text::PAD), owners))
}

/// The mean masked cross-entropy of the batch's captions (teacher forcing).
pub fn batch_loss(
    model: &CaptionModel,
    vocab: &Vocabulary,
    batch: &Batch,
    mode: Mode,
) -> Result<crate::tensor::Tensor> {
    let (tokens, owners) = batch_tokens(vocab, batch)?;
    let features = model.encoder.forward(&batch.images, mode)?;
    let features = features.index_select(0, &owners)?;
    model
        .decoder
        .loss(&features, &tokens.ids, tokens.max_len, mode)
}

/// Decoded captions of a loader's images and their scores.
#[derive(Clone, Debug, PartialEq)]
pub struct CaptionScores {
    /// BLEU-1 … BLEU-4.
    pub bleu: [f64; 4],
    /// CIDEr-D.
    pub cider: f64,
    /// Fraction of captions naming exactly the digits of the image's first reference.
    pub digits: f64,
    /// The best caption of each image, in loader order.
    pub captions: Vec<String>,
    /// Images decoded.
    pub images: usize,
}

/// Decodes every image of `loader` (greedy when `beam` is `None`) and scores the best
/// captions against all references of each image.
pub fn score_loader(
    model: &CaptionModel,
    vocab: &Vocabulary,
    loader: &Loader,
    beam: Option<&DecodeConfig>,
    max_len: usize,
) -> Result<CaptionScores> {
    let (mut cands, mut refs, mut texts) = (Vec::new(), Vec::new(), Vec::new());
    for batch in loader.epoch(0) {
        let batch = batch?;
        let BatchTargets::Captions(caps) = &batch.targets else {
            return Err(Error::config(
                "caption",
                "the evaluation data has no captions",
            ));
        };
        let hyps: Vec<Hypothesis> = match beam {
            None => greedy(model, &batch.images, max_len)?,
            Some(cfg) => beam_search(model, &batch.images, cfg)?
                .into_iter()
                .map(|mut v| v.remove(0))
                .collect(),
        };
        for (h, list) in hyps.iter().zip(caps) {
            let text = vocab.decode(&h.tokens);
            cands.push(text::metric_tokens(&text));
            refs.push(
                list.iter()
                    .map(|c| text::metric_tokens(c))
                    .collect::<Vec<_>>(),
            );
            texts.push(text);
        }
    }
    let b = metrics::corpus_bleu(&refs, &cands, 4);
    let (cider, _) = metrics::cider_d(&refs, &cands);
    let digits: Vec<Vec<u8>> = refs
        .iter()
        .map(|r: &Vec<Vec<String>>| r.first().map_or(Vec::new(), |f| metrics::numerals(f)))
        .collect();
    Ok(CaptionScores {
        bleu: [b[0], b[1], b[2], b[3]],
        cider,
        digits: metrics::digits_named(&cands, &digits),
        images: cands.len(),
        captions: texts,
    })
}

impl Task for Caption {
    fn model(&self) -> &dyn Module {
        &self.model
    }

    fn loss(&self, batch: &Batch) -> Result<StepLoss> {
        Ok(StepLoss {
            loss: batch_loss(&self.model, &self.vocab, batch, Mode::Train)?,
            stats: Vec::new(),
        })
    }

    fn evaluate(&self, loader: &Loader) -> Result<Vec<(String, f64)>> {
        let _g = crate::NoGradGuard::new();
        let (mut loss, mut n) = (0.0f64, 0usize);
        for batch in loader.epoch(0) {
            let batch = batch?;
            loss += batch_loss(&self.model, &self.vocab, &batch, Mode::Eval)?.item()? as f64
                * batch.len() as f64;
            n += batch.len();
        }
        let s = score_loader(&self.model, &self.vocab, loader, None, self.options.max_len)?;
        Ok(vec![
            ("loss".into(), loss / n.max(1) as f64),
            ("bleu1".into(), s.bleu[0]),
            ("bleu2".into(), s.bleu[1]),
            ("bleu3".into(), s.bleu[2]),
            ("bleu4".into(), s.bleu[3]),
            ("cider".into(), s.cider),
            ("digits".into(), s.digits),
        ])
    }

    fn headline(&self) -> Headline {
        Headline {
            name: "bleu4",
            higher_is_better: true,
        }
    }

    fn metadata(&self) -> Metadata {
        let o = &self.options;
        [
            ("kind", "caption".to_string()),
            ("vocab", self.vocab.to_text()),
            ("architecture", o.architecture.to_string()),
            ("encoder", o.encoder.clone()),
            ("image_size", o.image_size.to_string()),
            ("embed", o.embed.to_string()),
            ("hidden", o.hidden.to_string()),
            ("attention", o.attention.to_string()),
            ("alpha_c", o.alpha_c.to_string()),
            ("min_count", o.min_count.to_string()),
            ("max_len", o.max_len.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// The images of a split as the model takes them: converted to the encoder's channels,
/// resized to `size × size`, scaled to `[−1, 1]` (grey) or ImageNet-normalised (colour).
pub fn pipeline(channels: usize, size: usize) -> Result<Pipeline> {
    let normalize = if channels == 1 {
        Normalize::new(&[0.5], &[0.5])?
    } else {
        Normalize::new(
            &crate::data::image::IMAGENET_MEAN,
            &crate::data::image::IMAGENET_STD,
        )?
    };
    Pipeline::new(normalize)
        .then(ToChannels(channels))?
        .then(Resize::exact(size, size))
}

/// A loader over `data` for `model` (the first `limit` images), shuffled with `train`'s
/// seed when given.
pub fn loader(
    model: &CaptionModel,
    size: usize,
    data: Arc<dyn Dataset>,
    batch_size: usize,
    limit: Option<usize>,
    train: Option<&TrainConfig>,
) -> Result<Loader> {
    let data: Arc<dyn Dataset> = match limit {
        Some(n) if n < data.len() => Arc::new(Subset::new(data, (0..n).collect())?),
        _ => data,
    };
    crate::tasks::classify::build_loader(
        data,
        pipeline(model.encoder.input_channels(), size)?,
        batch_size,
        train,
    )
}

/// A trained captioner read back from a checkpoint: the model with its weights, its
/// vocabulary and its options.
pub struct Captioner {
    /// The model.
    pub model: CaptionModel,
    /// Its vocabulary.
    pub vocab: Vocabulary,
    /// Its options (image size, maximum length…).
    pub options: CaptionOptions,
}

/// Reads a captioning checkpoint; errors name the file and what is missing (a
/// checkpoint of another task, one without its vocabulary).
pub fn load_captioner(path: &Path) -> Result<Captioner> {
    let ck = read_checkpoint(path)?;
    let t = &ck.task;
    if t.get("kind").map(String::as_str) != Some("caption") {
        return Err(Error::format(
            path,
            format!(
                "not a captioning checkpoint (task.kind = {:?})",
                t.get("kind")
            ),
        ));
    }
    let vocab_text = t.get("vocab").ok_or_else(|| {
        Error::format(
            path,
            "the checkpoint has no vocabulary (task.vocab): it cannot turn word ids into words",
        )
    })?;
    let vocab =
        Vocabulary::from_text(vocab_text).map_err(|e| Error::format(path, e.to_string()))?;
    let get = |k: &str| -> Result<&String> {
        t.get(k)
            .ok_or_else(|| Error::format(path, format!("the checkpoint lacks task.{k}")))
    };
    let num = |k: &str| -> Result<usize> {
        get(k)?
            .parse()
            .map_err(|_| Error::format(path, format!("task.{k} is not a count")))
    };
    let options = CaptionOptions {
        architecture: get("architecture")?.parse()?,
        encoder: get("encoder")?.clone(),
        image_size: num("image_size")?,
        embed: num("embed")?,
        hidden: num("hidden")?,
        attention: num("attention")?,
        alpha_c: get("alpha_c")?
            .parse()
            .map_err(|_| Error::format(path, "task.alpha_c is not a number"))?,
        min_count: num("min_count")?,
        max_len: num("max_len")?,
    };
    let model = CaptionModel::new(&model_config(
        ck.config.dropout,
        ck.config.seed,
        &options,
        vocab.len(),
    ))?;
    crate::io::safetensors::copy_into_module(path, &ck.model, &model)?;
    Ok(Captioner {
        model,
        vocab,
        options,
    })
}
