//! `splot stylize train --style STYLE --data DIR --out RUN` and `splot stylize apply RUN
//! IMAGE... --out OUT`: Johnson et al.'s feed-forward stylisation network, trained through
//! the one training loop (see `splot::tasks::style::fast`).

use crate::stylize::vgg;
use clap::Args;
use splot::tasks::style::fast::{
    apply as stylize_once, transformer_net, FastStyle, FastStyleOptions, MODEL,
};
use splot::tasks::style::{beside, read_pixels, to_rgb};
use splot::train::{fit, read_checkpoint, Event, OptimizerKind, Outcome, RunFiles, TrainConfig};
use splot::viz::save_png;
use splot::{Error, Result, Rng};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(Args)]
pub struct TrainArgs {
    /// The style picture.
    #[arg(long)]
    style: PathBuf,
    /// A folder of content pictures (searched recursively).
    #[arg(long)]
    data: PathBuf,
    /// The run directory.
    #[arg(long)]
    out: PathBuf,
    /// Side of the square training crops (the shorter side is scaled to it first).
    #[arg(long, default_value_t = 128)]
    crop: usize,
    /// Epochs over the folder.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Pictures per batch.
    #[arg(long, default_value_t = 4)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f32,
    #[command(flatten)]
    loss: crate::stylize::LossWeightArgs,
    /// VGG19's weights (default: random from --seed).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Max pooling in VGG19 (default: average).
    #[arg(long)]
    max_pool: bool,
    /// Seed of the network's initialisation, the crops, and VGG19's random weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Evaluate on centre crops of the first N pictures.
    #[arg(long, default_value_t = 4)]
    val: usize,
}

pub fn train(args: &TrainArgs) -> Result<()> {
    if RunFiles::new(&args.out).last.exists() {
        return Err(Error::config(
            "stylize train",
            format!(
                "{} already holds a run; choose another --out",
                args.out.display()
            ),
        ));
    }
    let (net, said) = vgg("vgg19", args.weights.as_deref(), args.max_pool, args.seed)?;
    let (style, _) = read_pixels(&args.style, None)?;
    let config = TrainConfig {
        model: MODEL.into(),
        epochs: args.epochs,
        batch_size: args.batch_size,
        optimizer: OptimizerKind::Adam,
        lr: args.lr,
        weight_decay: 0.0,
        schedule: "constant".parse()?,
        seed: args.seed,
        ..Default::default()
    };
    config.validate()?;
    let options = FastStyleOptions {
        style,
        style_name: args.style.display().to_string(),
        weights: args.loss.weights(),
        crop: args.crop,
    };
    let task = FastStyle::new(&config, net, options)?;
    let data = std::sync::Arc::new(splot::data::image_files(&args.data)?);
    let count = splot::data::Dataset::len(data.as_ref());
    let (train_loader, val_loader) = task.loaders(&config, data, args.val)?;
    eprintln!(
        "training the feed-forward network for {} on {count} pictures of {} ({}×{} crops, VGG19 {said}) for {} epochs into {}",
        args.style.display(),
        args.data.display(),
        args.crop,
        args.crop,
        args.epochs,
        args.out.display()
    );
    let never = AtomicBool::new(false);
    let start = Instant::now();
    let mut on_event = |e: Event| {
        if let Event::EpochEnd(m) = e {
            let v = |n: &str| m.get(n).unwrap_or(f64::NAN);
            println!(
                "epoch {}/{}: train loss {:.4e} | val loss {:.4e} (content {:.3e}, style {:.3e}, tv {:.3e}) | {:.1} s",
                m.epoch,
                args.epochs,
                v("train_loss"),
                v("test_loss"),
                v("test_content"),
                v("test_style"),
                v("test_tv"),
                m.seconds
            );
        }
    };
    let outcome = splot::run_in_pool(|| {
        fit(
            &task,
            &config,
            &train_loader,
            &val_loader,
            &args.out,
            None,
            &never,
            &mut on_event,
        )
    })?;
    if let Outcome::Finished { best, .. } = outcome {
        println!(
            "done in {:.0} s: best val loss {best:.4e}; apply with: splot stylize apply {} PICTURE --out OUT.png",
            start.elapsed().as_secs_f64(),
            RunFiles::new(&args.out).best.display()
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct ApplyArgs {
    /// A checkpoint of `splot stylize train` (its best.safetensors or last.safetensors).
    checkpoint: PathBuf,
    /// The picture to stylise.
    picture: PathBuf,
    /// The picture to write (PNG).
    #[arg(long)]
    out: PathBuf,
    /// The picture is scaled so that its longer side has this many pixels.
    #[arg(long, default_value_t = 512)]
    size: usize,
    /// Write only the result, not the picture and the result side by side.
    #[arg(long)]
    plain: bool,
}

pub fn apply(args: &ApplyArgs) -> Result<()> {
    let ck = read_checkpoint(&args.checkpoint)?;
    if ck.config.model != MODEL {
        return Err(Error::format(
            &args.checkpoint,
            format!(
                "a checkpoint of {}, not of `splot stylize train` ({MODEL})",
                ck.config.model
            ),
        ));
    }
    let net = transformer_net(&mut Rng::seed(0))?;
    splot::io::safetensors::copy_into_module(&args.checkpoint, &ck.model, &net)?;
    let (x, _) = read_pixels(&args.picture, Some(args.size))?;
    let _ = splot::run_in_pool(|| stylize_once(&net, &x))?; // warm-up
    let start = Instant::now();
    let y = splot::run_in_pool(|| stylize_once(&net, &x))?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let picture = if args.plain {
        to_rgb(&y)?
    } else {
        beside(&[&x, &y])?
    };
    save_png(&args.out, &picture)?;
    println!(
        "{} ({}×{}) in the style of {}: {ms:.0} ms → {}",
        args.picture.display(),
        x.dim(3),
        x.dim(2),
        ck.task.get("style").map_or("?", |s| s.as_str()),
        args.out.display()
    );
    Ok(())
}
