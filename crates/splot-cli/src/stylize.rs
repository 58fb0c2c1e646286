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
pub struct StylizeArgs {
    /// The content picture (PNG or JPEG).
    content: PathBuf,
    /// The style picture (any size: resized to the content's; grey is made colour).
    style: PathBuf,
    /// The picture to write (PNG).
    #[arg(long)]
    out: PathBuf,
    /// Evaluations of the loss per scale (L-BFGS iterations or Adam steps).
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// The content is scaled so that its longer side has this many pixels.
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// α, the weight of the content loss.
    #[arg(long, default_value_t = 1.0)]
    content_weight: f32,
    /// β, the weight of the style loss.
    #[arg(long, default_value_t = 1e6)]
    style_weight: f32,
    /// γ, the weight of the total variation.
    #[arg(long, default_value_t = 1e-3)]
    tv_weight: f32,
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

pub fn run(args: &StylizeArgs) -> Result<()> {
    if args.model != "vgg19" {
        return Err(Error::config(
            "stylize",
            format!("--model {}: style transfer uses vgg19", args.model),
        ));
    }
    let net = Vgg19Features::new(!args.max_pool, args.seed)?;
    let weights_said = match &args.weights {
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
        None => format!("random weights (seed {})", args.seed),
    };
    let (content, grey_content) = read_pixels(&args.content, Some(args.size))?;
    let (style, grey_style) = read_pixels(&args.style, None)?;
    let (h, w) = (content.dim(2), content.dim(3));
    for (grey, path) in [(grey_content, &args.content), (grey_style, &args.style)] {
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
            args.style.display(),
            style.dim(3),
            style.dim(2)
        );
    }
    let config = StyleConfig {
        steps: args.steps,
        weights: LossWeights {
            content: args.content_weight,
            style: args.style_weight,
            tv: args.tv_weight,
            ..Default::default()
        },
        optimizer: args.optimizer,
        from_noise: args.from_noise,
        seed: args.seed,
        scales: args.scales,
        preserve_colour: args.preserve_colour,
    };
    eprintln!(
        "stylizing {} ({w}×{h}) in the style of {} over VGG19 ({weights_said}, {} pooling), {} {} steps per scale, {} scale(s)",
        args.content.display(),
        args.style.display(),
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
                save_png(&tagged(&args.out, &tag), &to_rgb(p.image)?)?;
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
                save_png(&args.out, &to_rgb(img)?)?;
                return Err(Error::config(
                    "stylize",
                    format!(
                        "{e}; the last good image is saved as {}",
                        args.out.display()
                    ),
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
    save_png(&args.out, &picture)?;
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
        args.out.display()
    );
    Ok(())
}
