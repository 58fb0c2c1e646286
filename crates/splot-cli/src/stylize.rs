//! `splot stylize CONTENT STYLE --out OUT.png`: Gatys et al.'s style transfer over VGG19
//! (random weights from `--seed` by default; `--weights FILE` for torchvision's, converted
//! to safetensors), with a progress bar and the losses; the picture shows content, style
//! and result side by side unless `--plain`. See `splot::tasks::style`.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use splot::io::safetensors::{load_module_with, LoadOptions};
use splot::tasks::style::{
    read_pixels, side_by_side, stylize, to_rgb, LossWeights, StyleConfig, StyleOptimizer,
    Vgg19Features,
};
use splot::viz::save_png;
use splot::{Error, Result, Tensor};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct StylizeCommand {
    #[command(subcommand)]
    mode: Option<StylizeMode>,
    #[command(flatten)]
    gatys: StylizeArgs,
}

#[derive(clap::Subcommand)]
enum StylizeMode {
    /// Train Johnson et al.'s feed-forward network for one style on a folder of pictures.
    Train(crate::stylize_fast::TrainArgs),
    /// Stylise pictures in one pass with a trained feed-forward network.
    Apply(crate::stylize_fast::ApplyArgs),
}

pub fn run_command(cmd: &StylizeCommand) -> Result<()> {
    match &cmd.mode {
        Some(StylizeMode::Train(a)) => crate::stylize_fast::train(a),
        Some(StylizeMode::Apply(a)) => crate::stylize_fast::apply(a),
        None => run(&cmd.gatys),
    }
}

/// The weights of the perceptual loss, shared by `splot stylize` and `splot stylize train`.
#[derive(Args)]
pub struct LossWeightArgs {
    /// α, the weight of the content loss.
    #[arg(long, default_value_t = 1.0)]
    content_weight: f32,
    /// β, the weight of the style loss.
    #[arg(long, default_value_t = 1e6)]
    style_weight: f32,
    /// γ, the weight of the total variation.
    #[arg(long, default_value_t = 1e-3)]
    tv_weight: f32,
    /// The weights of the style layers conv1_1, conv2_1, conv3_1, conv4_1, conv5_1.
    #[arg(long, value_delimiter = ',', default_value = "0.2,0.2,0.2,0.2,0.2")]
    layer_weights: Vec<f32>,
}

impl LossWeightArgs {
    /// As the library's loss weights.
    pub fn weights(&self) -> LossWeights {
        LossWeights {
            content: self.content_weight,
            style: self.style_weight,
            tv: self.tv_weight,
            layers: self.layer_weights.clone(),
        }
    }
}

#[derive(Args)]
pub struct StylizeArgs {
    /// The content picture (PNG or JPEG).
    #[arg(required = true)]
    content: Option<PathBuf>,
    /// The style picture (any size: resized to the content's; grey is made colour).
    #[arg(required = true)]
    style: Option<PathBuf>,
    /// The picture to write (PNG).
    #[arg(long, required = true)]
    out: Option<PathBuf>,
    /// Evaluations of the loss per scale (L-BFGS iterations or Adam steps).
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// The content is scaled so that its longer side has this many pixels.
    #[arg(long, default_value_t = 256)]
    size: usize,
    #[command(flatten)]
    loss: LossWeightArgs,
    /// lbfgs or adam.
    #[arg(long, default_value = "lbfgs")]
    optimizer: StyleOptimizer,
    /// The network (only vgg19).
    #[arg(long, default_value = "vgg19")]
    model: String,
    /// VGG19's weights (torchvision's names; the classifier's are ignored). Default: random
    /// weights from --seed.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Max pooling, as VGG was trained (default: average pooling, as Gatys et al.).
    #[arg(long)]
    max_pool: bool,
    /// Start from noise instead of the content picture.
    #[arg(long)]
    from_noise: bool,
    /// Scales, coarse to fine (each twice the previous side).
    #[arg(long, default_value_t = 1)]
    scales: usize,
    /// Keep the content's colours (luminance-only transfer).
    #[arg(long)]
    preserve_colour: bool,
    /// Seed of the random weights and of the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also save the image every N evaluations (OUT_stepN.png).
    #[arg(long, value_name = "N")]
    every: Option<usize>,
    /// Write only the result, not content, style and result side by side.
    #[arg(long)]
    plain: bool,
}

/// `dir/stem.png` → `dir/stem_<tag>.png`.
fn tagged(out: &Path, tag: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or("stylized".into(), |s| s.to_string_lossy());
    out.with_file_name(format!("{stem}_{tag}.png"))
}

/// VGG19's features for style transfer: `weights` (torchvision's names; the classifier's
/// tensors are ignored) or random weights from `seed`; and how it was made, in words.
pub fn vgg(
    model: &str,
    weights: Option<&Path>,
    max_pool: bool,
    seed: u64,
) -> Result<(Vgg19Features, String)> {
    if model != "vgg19" {
        return Err(Error::config(
            "stylize",
            format!("--model {model}: style transfer uses vgg19"),
        ));
    }
    let net = Vgg19Features::new(!max_pool, seed)?;
    let said = match weights {
        Some(w) => {
            let (_, report) = load_module_with(w, &net, &LoadOptions::default().non_strict())?;
            if !report.missing.is_empty() {
                return Err(Error::format(
                    w,
                    format!("not VGG19's weights: missing {}", report.missing.join(", ")),
                ));
            }
            format!("weights {}", w.display())
        }
        None => format!("random weights (seed {seed})"),
    };
    Ok((net, said))
}

pub fn run(args: &StylizeArgs) -> Result<()> {
    let (Some(content_path), Some(style_path), Some(out)) = (&args.content, &args.style, &args.out)
    else {
        return Err(Error::Parse {
            what: "stylize",
            msg: "give CONTENT STYLE --out FILE (or a subcommand: train, apply)".into(),
        });
    };
    let (net, weights_said) = vgg(
        &args.model,
        args.weights.as_deref(),
        args.max_pool,
        args.seed,
    )?;
    let (content, grey_content) = read_pixels(content_path, Some(args.size))?;
    let (style, grey_style) = read_pixels(style_path, None)?;
    let (h, w) = (content.dim(2), content.dim(3));
    for (grey, path) in [(grey_content, content_path), (grey_style, style_path)] {
        if grey {
            eprintln!(
                "{}: grey, its plane repeated into red, green and blue",
                path.display()
            );
        }
    }
    if (style.dim(2), style.dim(3)) != (h, w) {
        eprintln!(
            "{}: {}×{}, resized to the content's {w}×{h}",
            style_path.display(),
            style.dim(3),
            style.dim(2)
        );
    }
    let config = StyleConfig {
        steps: args.steps,
        weights: args.loss.weights(),
        optimizer: args.optimizer,
        from_noise: args.from_noise,
        seed: args.seed,
        scales: args.scales,
        preserve_colour: args.preserve_colour,
    };
    eprintln!(
        "stylizing {} ({w}×{h}) in the style of {} over VGG19 ({weights_said}, {} pooling), {} {} steps per scale, {} scale(s)",
        content_path.display(),
        style_path.display(),
        if args.max_pool { "max" } else { "average" },
        args.steps,
        if args.optimizer == StyleOptimizer::Lbfgs { "L-BFGS" } else { "Adam" },
        args.scales.max(1)
    );
    let style_bar = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
        .expect("valid template")
        .progress_chars("=> ");
    let mut bar: Option<(usize, ProgressBar)> = None;
    let mut last_good: Option<Tensor> = None;
    let (mut first, mut last) = (None, [0f32; 4]);
    let start = Instant::now();
    let outcome = splot::run_in_pool(|| {
        stylize(&net, &content, &style, &config, &mut |p| {
            if bar.as_ref().is_none_or(|(s, _)| *s != p.scale) {
                if let Some((_, b)) = bar.take() {
                    b.finish();
                }
                let b = ProgressBar::new(p.steps as u64)
                    .with_style(style_bar.clone())
                    .with_prefix(format!("scale {}/{}", p.scale, p.scales));
                bar = Some((p.scale, b));
            }
            let [c, s, t, total] = p.losses;
            if let Some((_, b)) = &bar {
                b.set_position(p.step.min(p.steps) as u64);
                b.set_message(format!(
                    "loss {total:.4e} (content {c:.3e}, style {s:.3e}, tv {t:.3e})"
                ));
            }
            first.get_or_insert(p.losses);
            last = p.losses;
            last_good = Some(p.image.clone());
            if args.every.is_some_and(|n| n > 0 && p.step % n == 0) {
                let tag = if p.scales > 1 {
                    format!("scale{}_step{}", p.scale, p.step)
                } else {
                    format!("step{}", p.step)
                };
                save_png(&tagged(out, &tag), &to_rgb(p.image)?)?;
            }
            Ok(())
        })
    });
    if let Some((_, b)) = bar.take() {
        b.finish();
    }
    let result = match outcome {
        Ok(r) => r,
        Err(e) => {
            if let Some(img) = &last_good {
                save_png(out, &to_rgb(img)?)?;
                return Err(Error::config(
                    "stylize",
                    format!("{e}; the last good image is saved as {}", out.display()),
                ));
            }
            return Err(e);
        }
    };
    let picture = if args.plain {
        to_rgb(&result)?
    } else {
        side_by_side(&content, &style, &result)?
    };
    save_png(out, &picture)?;
    let first = first.unwrap_or(last);
    println!(
        "style loss {:.4e} → {:.4e} ({:.0}× lower), content loss {:.4e} → {:.4e}, total {:.4e} → {:.4e}; {:.1} s → {}",
        first[1],
        last[1],
        first[1] / last[1].max(f32::MIN_POSITIVE),
        first[0],
        last[0],
        first[3],
        last[3],
        start.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}
