//! `splot segment train|eval|predict`: semantic segmentation (FCN-32s/16s/8s, fcn_resnet50,
//! Farabet's multi-scale network), thin over `splot::tasks::segment`. Data: the digit
//! scenes (written to `data/scenes/` on first use), any VOC directory with `--data`.

use clap::{Args, Subcommand};
use splot::data::scenes::ScenesConfig;
use splot::data::{Dataset, MemoryDataset, Sample, Target};
use splot::tasks::segment::picture::{overlay_picture, stack};
use splot::tasks::segment::{
    load_segmenter, loader, model_channels, predict, Segment, SegmentData, SegmentOptions,
};
use splot::train::{fit, Event, OptimizerKind, Outcome, RunFiles, TrainConfig};
use splot::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What to do with a segmenter.
#[derive(Subcommand)]
pub enum Mode {
    /// Train a network (per-pixel cross-entropy ignoring 255) on VOC-style masks.
    Train(Box<TrainArgs>),
    /// Pixel accuracy, mean class accuracy, mean IoU and per-class IoU of a checkpoint.
    Eval(EvalArgs),
    /// Label pictures: a palette mask and an overlay with a legend for each.
    Predict(PredictArgs),
}

/// Where the masks come from.
#[derive(Args, Clone)]
pub struct DataArgs {
    /// A Pascal VOC directory (ImageSets/Segmentation/{train,val}.txt, JPEGImages/,
    /// SegmentationClass/, optionally classes.txt); default: the digit scenes.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where the default digit scenes live (written there when absent).
    #[arg(long, default_value = "data/scenes")]
    scenes: PathBuf,
    /// Training canvases of the default scenes when they are written.
    #[arg(long, default_value_t = 1000)]
    scenes_train: usize,
    /// Validation canvases of the default scenes when they are written.
    #[arg(long, default_value_t = 200)]
    scenes_val: usize,
    /// Side of the default scenes' canvases.
    #[arg(long, default_value_t = 128)]
    scenes_size: usize,
}

fn open_data(args: &DataArgs) -> Result<SegmentData> {
    match &args.data {
        Some(dir) => SegmentData::open(dir),
        None => {
            let config = ScenesConfig {
                train: args.scenes_train,
                val: args.scenes_val,
                size: args.scenes_size,
                seed: 0,
            };
            let (data, made) = SegmentData::scenes(&args.scenes, &config)?;
            if made {
                eprintln!("wrote the digit scenes into {}", args.scenes.display());
            }
            Ok(data)
        }
    }
}

/// `splot segment train`.
#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// fcn32s, fcn16s, fcn8s (VGG16), fcn32s-small, fcn16s-small, fcn8s-small,
    /// fcn_resnet50, fcn_resnet101, multiscale.
    #[arg(long, default_value = "multiscale")]
    model: String,
    /// Train fcn_resnet's auxiliary head on layer 3 too.
    #[arg(long)]
    aux: bool,
    /// Weight of the auxiliary loss.
    #[arg(long, default_value_t = 0.5)]
    aux_weight: f32,
    /// One loss weight per class, comma-separated (background first).
    #[arg(long, value_delimiter = ',')]
    class_weights: Option<Vec<f32>>,
    /// Crop training images at random to CROP×CROP (padded first where smaller; masks
    /// padded with 255); default: whole images, which must then be of one size.
    #[arg(long)]
    crop: Option<usize>,
    /// Dropout of fc6/fc7 (FCN) or of the classifier (multiscale).
    #[arg(long, default_value_t = 0.1)]
    dropout: f32,
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// sgd, adam or adamw.
    #[arg(long, default_value = "adam")]
    optimizer: OptimizerKind,
    #[arg(long, default_value_t = 2e-3)]
    lr: f32,
    #[arg(long, default_value_t = 0.9)]
    momentum: f32,
    #[arg(long, default_value_t = 1e-4)]
    weight_decay: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    limit_train: Option<usize>,
    #[arg(long)]
    limit_val: Option<usize>,
    /// The run directory (default runs/segment-MODEL).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `splot segment eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// A run directory or checkpoint file.
    checkpoint: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    #[arg(long)]
    limit_val: Option<usize>,
    /// Also draw the first N validation images with their truth and prediction into
    /// --picture.
    #[arg(long, default_value_t = 0)]
    examples: usize,
    /// The PNG of the examples.
    #[arg(long, default_value = "segment_examples.png")]
    picture: PathBuf,
}

/// `splot segment predict`.
#[derive(Args)]
pub struct PredictArgs {
    /// A run directory or checkpoint file.
    checkpoint: PathBuf,
    /// The pictures.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Folder for the masks (NAME_mask.png, palette) and overlays (NAME_overlay.png).
    #[arg(long, default_value = "segments")]
    out: PathBuf,
}

/// Runs the mode.
pub fn run(mode: &Mode) -> Result<()> {
    match mode {
        Mode::Train(a) => train(a),
        Mode::Eval(a) => eval(a),
        Mode::Predict(a) => predict_pictures(a),
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
    let config = TrainConfig {
        model: format!("segment-{}", args.model),
        dropout: args.dropout,
        epochs: args.epochs,
        batch_size: args.batch_size,
        optimizer: args.optimizer,
        lr: args.lr,
        momentum: args.momentum,
        weight_decay: args.weight_decay,
        seed: args.seed,
        limit_train: args.limit_train,
        limit_test: args.limit_val,
        ..Default::default()
    };
    let options = SegmentOptions {
        aux: args.aux,
        aux_weight: args.aux_weight,
        class_weights: args.class_weights.clone(),
        crop: args.crop,
        ..SegmentOptions::new(
            &args.model,
            data.classes.clone(),
            model_channels(&args.model, data.channels),
        )
    };
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&config.model));
    if RunFiles::new(&dir).last.exists() {
        return Err(Error::config(
            "segment train",
            format!(
                "{} already holds a run; choose another --out",
                dir.display()
            ),
        ));
    }
    let task = Segment::new(&config, &options)?;
    task.check_classes(&data)?;
    let tl = loader(
        &options,
        data.train.clone(),
        args.batch_size,
        args.limit_train,
        Some(&config),
    )?;
    let vl = loader(
        &options,
        data.val.clone(),
        args.batch_size,
        args.limit_val,
        None,
    )?;
    eprintln!(
        "training {} ({} classes, {} parameters) on {} images of {} for {} epochs into {}",
        args.model,
        data.classes.len(),
        splot::nn::num_parameters(task.model()),
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
                "epoch {}: train loss {:.4} | val loss {:.4} pixel acc {:.2} % mean class acc {:.2} % mIoU {:.4} | {:.0} s (total {:.0} s)",
                m.epoch,
                v("train_loss"),
                v("test_loss"),
                100.0 * v("test_pixel_accuracy"),
                100.0 * v("test_mean_class_accuracy"),
                v("test_miou"),
                m.seconds,
                started.elapsed().as_secs_f64()
            );
        }
    };
    use splot::train::Task;
    let outcome =
        splot::run_in_pool(|| fit(&task, &config, &tl, &vl, &dir, None, &stop, &mut on_event))?;
    if let Outcome::Finished { best, .. } = outcome {
        println!(
            "best val mIoU {best:.4} after {:.0} s; checkpoints in {}",
            started.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    Ok(())
}

fn eval(args: &EvalArgs) -> Result<()> {
    let path = checkpoint_path(&args.checkpoint);
    let task = load_segmenter(&path)?;
    let data = open_data(&args.data)?;
    task.check_classes(&data)?;
    let o = task.options();
    let vl = loader(o, data.val.clone(), 16, args.limit_val, None)?;
    let t = Instant::now();
    let (m, loss) = splot::run_in_pool(|| task.confusion(&vl))?;
    let s = m.scores();
    println!(
        "{} ({}) on {} ({} images, {:.1} images/s)",
        path.display(),
        o.model,
        data.description,
        vl.dataset().len(),
        vl.dataset().len() as f64 / t.elapsed().as_secs_f64()
    );
    println!(
        "loss {loss:.4}  pixel accuracy {:.2} %  mean class accuracy {:.2} %  mean IoU {:.4}",
        100.0 * s.pixel_accuracy,
        100.0 * s.mean_class_accuracy,
        s.mean_iou
    );
    println!("{:<16} {:>8} {:>10}", "class", "IoU", "accuracy");
    for (c, name) in o.class_names.iter().enumerate() {
        println!(
            "{name:<16} {:>8.4} {:>9.2} %",
            s.iou[c],
            100.0 * s.class_accuracy[c]
        );
    }
    if args.examples > 0 {
        let l = loader(o, data.val.clone(), 1, Some(args.examples), None)?;
        let mut rows = Vec::new();
        for (k, batch) in l.epoch(0).enumerate() {
            let batch = batch?;
            let pred = splot::run_in_pool(|| predict(task.segmenter(), &batch.images))?;
            let sample = data.val.get(k)?;
            let Target::Mask(truth) = &sample.target else {
                return Err(Error::config("segment eval", "a val image has no mask"));
            };
            rows.push(overlay_picture(
                &sample.image,
                &[("truth", truth), ("prediction", &pred[0])],
                &o.class_names,
            )?);
        }
        splot::viz::save_png(&args.picture, &stack(&rows))?;
        println!("wrote {}", args.picture.display());
    }
    Ok(())
}

fn predict_pictures(args: &PredictArgs) -> Result<()> {
    let path = checkpoint_path(&args.checkpoint);
    let task = load_segmenter(&path)?;
    let o = task.options();
    let mut samples = Vec::new();
    for (k, p) in args.images.iter().enumerate() {
        samples.push(Sample {
            image: splot::data::image::read_image(p)?,
            target: Target::None,
            id: k as u64,
        });
    }
    let originals: Vec<_> = samples.iter().map(|s| s.image.clone()).collect();
    let data = Arc::new(MemoryDataset::new(samples, Vec::new())?);
    let l = loader(o, data, 1, None, None)?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    for (batch, (file, original)) in l.epoch(0).zip(args.images.iter().zip(&originals)) {
        let batch = batch?;
        let mask = splot::run_in_pool(|| predict(task.segmenter(), &batch.images))?.remove(0);
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
        let mask_path = args.out.join(format!("{stem}_mask.png"));
        splot::data::image::write_mask(&mask_path, &mask)?;
        let overlay = args.out.join(format!("{stem}_overlay.png"));
        splot::viz::save_png(
            &overlay,
            &overlay_picture(original, &[("prediction", &mask)], &o.class_names)?,
        )?;
        let mut counts = vec![0usize; o.class_names.len()];
        for &v in &mask.data {
            counts[v as usize] += 1;
        }
        let found: Vec<String> = counts
            .iter()
            .enumerate()
            .filter(|&(c, &n)| c > 0 && n > 0)
            .map(|(c, n)| format!("{} ({n} px)", o.class_names[c]))
            .collect();
        println!(
            "{}: {} → {}, {}",
            file.display(),
            if found.is_empty() {
                "background only".to_string()
            } else {
                found.join(", ")
            },
            mask_path.display(),
            overlay.display()
        );
    }
    Ok(())
}
