//! `splot filters CHECKPOINT [--layer NAME] --out FILE.png` (or `--model NAME --weights
//! FILE` for a zoo network, e.g. AlexNet's 96 first-layer 11×11×3 filters in colour): a
//! layer's learned filters as a grid of tiles (see `splot::viz::filters` for the layout).

use crate::network;
use clap::Args;
use splot::viz::filters::{filter_grid, layer_filters};
use splot::viz::save_png;
use splot::Result;
use std::path::PathBuf;

#[derive(Args)]
pub struct FiltersArgs {
    /// A checkpoint written by `splot train` (not with --model/--weights).
    checkpoint: Option<PathBuf>,
    /// A zoo network (alexnet, resnet18, …), with --weights.
    #[arg(long, requires = "weights", conflicts_with = "checkpoint")]
    model: Option<String>,
    /// The zoo network's weights: safetensors with torchvision's tensor names.
    #[arg(long, requires = "model")]
    weights: Option<PathBuf>,
    /// The layer (`c1`, `c3`, `conv2`…; default: the first convolution).
    #[arg(long)]
    layer: Option<String>,
    /// The PNG file to write.
    #[arg(long)]
    out: PathBuf,
    /// Each filter tap becomes a square of this many pixels.
    #[arg(long, default_value_t = 8)]
    scale: usize,
    /// Pixels between the tiles.
    #[arg(long, default_value_t = 2)]
    gap: usize,
}

pub fn run(args: &FiltersArgs) -> Result<()> {
    let (net, _, source) = network::load(
        "filters",
        args.checkpoint.as_deref(),
        args.model.as_deref(),
        args.weights.as_deref(),
    )?;
    let (name, weight) = layer_filters(&net, args.layer.as_deref())?;
    let img = filter_grid(&weight, args.scale, args.gap)?;
    save_png(&args.out, &img)?;
    println!(
        "{}: filters of {name} {:?} → {} ({}×{} pixels)",
        source.display(),
        weight.shape(),
        args.out.display(),
        img.width(),
        img.height()
    );
    Ok(())
}
