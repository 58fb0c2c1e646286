//! `splot data …`: make splot's offline data sets.
//!
//! `splot data scenes --out DIR --count N --size S --seed K` writes the digit scenes
//! (`splot::data::scenes`): N canvases per split (`--val M` for another val count), the
//! train split from MNIST's training digits and the val split from its test digits, as
//! Pascal VOC segmentation and COCO instances and captions under DIR.

use clap::{Args, Subcommand};
use splot::data::scenes::{scene_preview, scene_seed, write_scenes, Scene, ScenesConfig, Split};
use splot::data::Mnist;
use splot::viz::save_png;
use splot::Result;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Write digit scenes (1–5 MNIST digits on textured canvases) with VOC masks, COCO boxes
    /// and COCO captions.
    Scenes(ScenesArgs),
    /// Write the scenes' five background textures as an ImageFolder classification set
    /// (train/ and test/, one folder per texture): a target unrelated to digits.
    Textures(TexturesArgs),
}

#[derive(Args)]
pub struct TexturesArgs {
    /// The folder to write (created if needed).
    #[arg(long)]
    out: PathBuf,
    /// Training images per texture.
    #[arg(long, default_value_t = 200)]
    count: usize,
    /// Test images per texture.
    #[arg(long, default_value_t = 100)]
    test: usize,
    /// Side of each square image in pixels.
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// The seed: the same seed writes the same bytes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The MNIST folder of the clutter digits (default: ./data/mnist, else the repository's).
    #[arg(long)]
    mnist: Option<PathBuf>,
}

fn textures(args: &TexturesArgs) -> Result<()> {
    let dir = match &args.mnist {
        Some(dir) => dir.clone(),
        None => Mnist::locate()?,
    };
    let mnist = Mnist::load(&dir)?;
    let n = splot::data::scenes::write_textures(
        &args.out,
        &mnist.train,
        &mnist.test,
        [args.count, args.test],
        args.size,
        args.seed,
    )?;
    println!(
        "{n} texture images (5 classes, {} train and {} test each) of {s}×{s} → {}",
        args.count,
        args.test,
        args.out.display(),
        s = args.size
    );
    Ok(())
}

#[derive(Args)]
pub struct ScenesArgs {
    /// The folder to write (created if needed; files of the same names are replaced).
    #[arg(long)]
    out: PathBuf,
    /// Canvases per split.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Canvases in the val split, if not --count.
    #[arg(long)]
    val: Option<usize>,
    /// Side of each square canvas in pixels (24 to 2048).
    #[arg(long, default_value_t = 128)]
    size: usize,
    /// The seed: the same seed writes the same bytes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The MNIST folder (default: ./data/mnist, else the repository's).
    #[arg(long)]
    mnist: Option<PathBuf>,
    /// Also draw the first four train canvases beside their masks into this PNG.
    #[arg(long)]
    preview: Option<PathBuf>,
}

pub fn run(args: &DataArgs) -> Result<()> {
    match &args.command {
        DataCommand::Scenes(a) => scenes(a),
        DataCommand::Textures(a) => textures(a),
    }
}

fn scenes(args: &ScenesArgs) -> Result<()> {
    let config = ScenesConfig {
        train: args.count,
        val: args.val.unwrap_or(args.count),
        size: args.size,
        seed: args.seed,
    };
    config.check()?;
    let mnist = match &args.mnist {
        Some(dir) => dir.clone(),
        None => Mnist::locate()?,
    };
    let start = Instant::now();
    let summary = write_scenes(&args.out, &mnist, &config)?;
    let [train, val] = summary.canvases;
    let [train_digits, val_digits] = summary.digits;
    println!(
        "{train} train canvases ({train_digits} digits) and {val} val canvases ({val_digits} \
         digits) of {s}×{s} → {} in {:.1} s",
        args.out.display(),
        start.elapsed().as_secs_f64(),
        s = config.size,
    );
    let counts: Vec<String> = summary
        .per_count
        .iter()
        .enumerate()
        .map(|(n, c)| format!("{} digit{}: {c}", n + 1, if n == 0 { "" } else { "s" }))
        .collect();
    println!("canvases by digits: {}", counts.join(", "));
    if let Some(path) = &args.preview {
        let digits = Mnist::load_train(&mnist)?;
        let scenes = (0..config.train.min(4))
            .map(|i| {
                Scene::generate(
                    &digits,
                    config.size,
                    scene_seed(config.seed, Split::Train, i),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        save_png(path, &scene_preview(&scenes)?)?;
        println!("preview → {}", path.display());
        for (i, s) in scenes.iter().enumerate() {
            println!("  {}: {}", Split::Train.canvas_id(i), s.captions[0]);
        }
    }
    Ok(())
}
