//! `splot caption train|eval|predict`: image captioning (Show and Tell, Show, Attend and
//! Tell), thin over `splot::tasks::caption`. Data: the digit scenes' captions by default
//! (written to `data/scenes-64/` on first use), any COCO-captions directory with `--data`.

use clap::{Args, Subcommand};
use splot::data::scenes::ScenesConfig;
use splot::data::{MemoryDataset, Sample, Target};
use splot::tasks::caption::{
    beam_search, load_captioner, loader, picture, score_loader, Architecture, Caption, CaptionData,
    CaptionOptions, DecodeConfig, Vocabulary,
};
use splot::train::{fit, Event, OptimizerKind, Outcome, RunFiles, TrainConfig};
use splot::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What to do with a captioner.
#[derive(Subcommand)]
pub enum Mode {
    /// Train a captioner (teacher forcing, masked cross-entropy) on COCO-style captions.
    Train(Box<TrainArgs>),
    /// BLEU-1…4, CIDEr-D and digits named of a checkpoint, greedy and with beams.
    Eval(EvalArgs),
    /// Caption pictures: the best captions printed, each picture written with them.
    Predict(PredictArgs),
}

/// Where the captions come from.
#[derive(Args, Clone)]
pub struct DataArgs {
    /// A COCO captions directory (annotations/captions_{train,val}*.json and the images);
    /// default: the digit scenes.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where the default digit scenes live (written there when absent).
    #[arg(long, default_value = "data/scenes-64")]
    scenes: PathBuf,
    /// Training canvases of the default scenes when they are written.
    #[arg(long, default_value_t = 4000)]
    scenes_train: usize,
    /// Validation canvases of the default scenes when they are written.
    #[arg(long, default_value_t = 500)]
    scenes_val: usize,
    /// Side of the default scenes' canvases.
    #[arg(long, default_value_t = 64)]
    scenes_size: usize,
}

fn open_data(args: &DataArgs) -> Result<CaptionData> {
    match &args.data {
        Some(dir) => CaptionData::open(dir),
        None => {
            let config = ScenesConfig {
                train: args.scenes_train,
                val: args.scenes_val,
                size: args.scenes_size,
                seed: 0,
            };
            let (data, made) = CaptionData::scenes(&args.scenes, &config)?;
            if made {
                eprintln!("wrote the digit scenes into {}", args.scenes.display());
            }
            Ok(data)
        }
    }
}

/// `splot caption train`.
#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// show-tell or attend.
    #[arg(long, default_value = "show-tell")]
    model: Architecture,
    /// The encoder: small, or a zoo network (resnet18, vgg11…) cut before its pooling.
    #[arg(long, default_value = "small")]
    encoder: String,
    /// Images are resized to SIZE×SIZE.
    #[arg(long, default_value_t = 64)]
    image_size: usize,
    #[arg(long, default_value_t = 256)]
    embed: usize,
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    #[arg(long, default_value_t = 128)]
    attention: usize,
    /// Weight of the doubly stochastic attention regulariser.
    #[arg(long, default_value_t = 1.0)]
    alpha_c: f32,
    /// Words seen fewer times in the training captions become <unk>.
    #[arg(long, default_value_t = 1)]
    min_count: usize,
    /// Dropout before the output layer.
    #[arg(long, default_value_t = 0.3)]
    dropout: f32,
    #[arg(long, default_value_t = 15)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 2e-3)]
    lr: f32,
    /// Freeze the encoder (train the language model only).
    #[arg(long)]
    freeze_encoder: bool,
    #[arg(long, default_value_t = 5.0)]
    clip_grad_norm: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    limit_train: Option<usize>,
    #[arg(long)]
    limit_val: Option<usize>,
    /// The run directory (default runs/caption-MODEL).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `splot caption eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// A run directory or checkpoint file.
    checkpoint: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    beam: BeamArgs,
    #[arg(long)]
    limit_val: Option<usize>,
}

/// Beam search settings.
#[derive(Args, Clone, Copy)]
pub struct BeamArgs {
    #[arg(long, default_value_t = 3)]
    beam_width: usize,
    /// Length normalisation α: beams are ranked by log p / len^α.
    #[arg(long, default_value_t = 0.7)]
    length_penalty: f32,
    /// The most words of a caption (default: the checkpoint's).
    #[arg(long)]
    max_len: Option<usize>,
}

/// `splot caption predict`.
#[derive(Args)]
pub struct PredictArgs {
    /// A run directory or checkpoint file.
    checkpoint: PathBuf,
    /// The pictures.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    #[command(flatten)]
    beam: BeamArgs,
    /// Captions to print per picture.
    #[arg(long, default_value_t = 3)]
    top: usize,
    /// Folder for the captioned pictures (and attention maps).
    #[arg(long, default_value = "captions")]
    out: PathBuf,
}

/// Runs the mode.
pub fn run(mode: &Mode) -> Result<()> {
    match mode {
        Mode::Train(a) => train(a),
        Mode::Eval(a) => eval(a),
        Mode::Predict(a) => predict(a),
    }
}

fn checkpoint_path(p: &Path) -> PathBuf {
    if p.is_dir() {
        RunFiles::new(p).best
    } else {
        p.to_path_buf()
    }
}

fn train(args: &TrainArgs) -> Result<()> {
    let data = open_data(&args.data)?;
    let vocab = Vocabulary::build(data.train_captions(), args.min_count)?;
    let config = TrainConfig {
        model: format!("caption-{}", args.model),
        dropout: args.dropout,
        epochs: args.epochs,
        batch_size: args.batch_size,
        optimizer: OptimizerKind::Adam,
        lr: args.lr,
        weight_decay: 0.0,
        seed: args.seed,
        limit_train: args.limit_train,
        limit_test: args.limit_val,
        freeze: if args.freeze_encoder {
            vec!["encoder.*".into()]
        } else {
            Vec::new()
        },
        clip_grad_norm: Some(args.clip_grad_norm),
        ..Default::default()
    };
    let options = CaptionOptions {
        architecture: args.model,
        encoder: args.encoder.clone(),
        image_size: args.image_size,
        embed: args.embed,
        hidden: args.hidden,
        attention: args.attention,
        alpha_c: args.alpha_c,
        min_count: args.min_count,
        ..Default::default()
    };
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&config.model));
    if RunFiles::new(&dir).last.exists() {
        return Err(Error::config(
            "caption train",
            format!(
                "{} already holds a run; choose another --out",
                dir.display()
            ),
        ));
    }
    let task = Caption::new(&config, &options, vocab)?;
    let m = task.captioner();
    let tl = loader(
        m,
        args.image_size,
        data.train.clone(),
        args.batch_size,
        args.limit_train,
        Some(&config),
    )?;
    let vl = loader(
        m,
        args.image_size,
        data.val.clone(),
        100,
        args.limit_val,
        None,
    )?;
    eprintln!(
        "training {} ({} encoder, vocabulary of {}) on {} images of {} for {} epochs into {}",
        args.model,
        args.encoder,
        task.vocab().len(),
        tl.dataset().len(),
        data.description,
        args.epochs,
        dir.display()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    let started = Instant::now();
    let mut on_event = |e: Event| {
        if let Event::EpochEnd(m) = e {
            let v = |n: &str| m.get(n).unwrap_or(f64::NAN);
            println!(
                "epoch {}: train loss {:.4} | val loss {:.4} BLEU-1..4 {:.3} {:.3} {:.3} {:.3} CIDEr-D {:.3} digits {:.1} % | {:.0} s (total {:.0} s)",
                m.epoch,
                v("train_loss"),
                v("test_loss"),
                v("test_bleu1"),
                v("test_bleu2"),
                v("test_bleu3"),
                v("test_bleu4"),
                v("test_cider"),
                100.0 * v("test_digits"),
                m.seconds,
                started.elapsed().as_secs_f64()
            );
        }
    };
    let outcome =
        splot::run_in_pool(|| fit(&task, &config, &tl, &vl, &dir, None, &stop, &mut on_event))?;
    if let Outcome::Finished { best, .. } = outcome {
        println!(
            "best val BLEU-4 (greedy) {best:.4}; checkpoints in {}",
            dir.display()
        );
    }
    Ok(())
}

fn decode_config(b: &BeamArgs, max_len: usize, k: usize) -> DecodeConfig {
    DecodeConfig {
        width: b.beam_width,
        max_len: b.max_len.unwrap_or(max_len),
        length_penalty: b.length_penalty,
        k: k.min(b.beam_width),
    }
}

fn eval(args: &EvalArgs) -> Result<()> {
    let path = checkpoint_path(&args.checkpoint);
    let c = load_captioner(&path)?;
    let data = open_data(&args.data)?;
    let vl = loader(
        &c.model,
        c.options.image_size,
        data.val.clone(),
        100,
        args.limit_val,
        None,
    )?;
    let max_len = args.beam.max_len.unwrap_or(c.options.max_len);
    let beam = decode_config(&args.beam, c.options.max_len, 1);
    println!(
        "{} on {} ({} images)",
        path.display(),
        data.description,
        vl.dataset().len()
    );
    println!("decoding        BLEU-1  BLEU-2  BLEU-3  BLEU-4  CIDEr-D  digits  captions/s");
    for (name, cfg) in [("greedy", None), ("beam", Some(&beam))] {
        let t = Instant::now();
        let s = splot::run_in_pool(|| score_loader(&c.model, &c.vocab, &vl, cfg, max_len))?;
        let label = match cfg {
            Some(b) => format!("{name} {}", b.width),
            None => name.to_string(),
        };
        println!(
            "{label:<14} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>8.4} {:>6.1} % {:>9.1}",
            s.bleu[0],
            s.bleu[1],
            s.bleu[2],
            s.bleu[3],
            s.cider,
            100.0 * s.digits,
            s.images as f64 / t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn predict(args: &PredictArgs) -> Result<()> {
    let path = checkpoint_path(&args.checkpoint);
    let c = load_captioner(&path)?;
    let mut samples = Vec::new();
    for (k, p) in args.images.iter().enumerate() {
        samples.push(Sample {
            image: splot::data::image::read_image(p)?,
            target: Target::Captions(Vec::new()),
            id: k as u64,
        });
    }
    let originals: Vec<_> = samples.iter().map(|s| s.image.clone()).collect();
    let data = Arc::new(MemoryDataset::new(samples, Vec::new())?);
    let l = loader(&c.model, c.options.image_size, data, 1, None, None)?;
    let cfg = decode_config(&args.beam, c.options.max_len, args.top.max(1));
    let cfg = DecodeConfig {
        width: cfg.width.max(cfg.k),
        ..cfg
    };
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    for (batch, (file, original)) in l.epoch(0).zip(args.images.iter().zip(&originals)) {
        let batch = batch?;
        let hyps = beam_search(&c.model, &batch.images, &cfg)?.remove(0);
        println!("{}:", file.display());
        let lines: Vec<(String, f32)> = hyps
            .iter()
            .map(|h| (c.vocab.decode(&h.tokens), h.log_prob))
            .collect();
        for (k, (t, lp)) in lines.iter().enumerate() {
            println!("  {}. {t}  (log p {lp:.3})", k + 1);
        }
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
        let out = args.out.join(format!("{stem}_caption.png"));
        splot::viz::save_png(&out, &picture::caption_picture(original, &lines)?)?;
        println!("  wrote {}", out.display());
        if let (Some(best), Architecture::Attend) = (hyps.first(), c.options.architecture) {
            let grid = c.model.encoder_grid(c.options.image_size)?;
            let words: Vec<String> = best
                .tokens
                .iter()
                .map(|&t| c.vocab.word(t).to_string())
                .collect();
            let att = args.out.join(format!("{stem}_attention.png"));
            splot::viz::save_png(
                &att,
                &picture::attention_picture(original, &words, &best.attention, grid)?,
            )?;
            println!("  wrote {}", att.display());
        }
    }
    Ok(())
}
