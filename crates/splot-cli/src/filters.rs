//! `splot filters CHECKPOINT [--layer NAME] --out FILE.png`: a layer's learned filters as a
//! grid of tiles (see `splot::viz::filters` for the layout).

use clap::Args;
use splot::train::read_checkpoint;
use splot::viz::filters::{filter_grid, layer_filters};
use splot::viz::save_png;
use splot::Result;
use std::path::PathBuf;

#[derive(Args)]
pub struct FiltersArgs {
    /// A checkpoint written by `splot train`.
    checkpoint: PathBuf,
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
    let ck = read_checkpoint(&args.checkpoint)?;
    let (net, _) = ck.build_model(&args.checkpoint)?;
    let (name, weight) = layer_filters(&net, args.layer.as_deref())?;
    let img = filter_grid(&weight, args.scale, args.gap)?;
    save_png(&args.out, &img)?;
    println!(
        "{}: filters of {name} {:?} → {} ({}×{} pixels)",
        args.checkpoint.display(),
        weight.shape(),
        args.out.display(),
        img.width(),
        img.height()
    );
    Ok(())
}
