//! `splot features CHECKPOINT IMAGE [--layer NAME|all] --out FILE.png`: the feature maps a
//! picture produces at a layer, one tile per map, each normalised on its own.

use crate::network;
use clap::Args;
use splot::viz::features::{feature_grid, layer_outputs, pick_layer, read_picture};
use splot::viz::save_png;
use splot::Result;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct FeaturesArgs {
    #[command(flatten)]
    source: network::OnePicture,
    /// The layer whose output to show (`c1`, `c1_act`…), or `all` for one picture per
    /// layer (FILE_<layer>.png). Default: the first layer.
    #[arg(long)]
    layer: Option<String>,
    /// The PNG file to write.
    #[arg(long)]
    out: PathBuf,
    /// Each activation becomes a square of this many pixels.
    #[arg(long, default_value_t = 4)]
    scale: usize,
    /// Pixels between the maps.
    #[arg(long, default_value_t = 2)]
    gap: usize,
}

/// `dir/stem.png` → `dir/stem_<layer>.png`.
fn per_layer_path(out: &Path, layer: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or("features".into(), |s| s.to_string_lossy());
    let ext = out
        .extension()
        .map_or("png".into(), |s| s.to_string_lossy());
    out.with_file_name(format!("{stem}_{layer}.{ext}"))
}

pub fn run(args: &FeaturesArgs) -> Result<()> {
    let (net, input_shape, image) = args.source.load("features")?;
    let input = read_picture(image, input_shape)?;
    let outputs = layer_outputs(&net, &input)?;
    let chosen: Vec<(PathBuf, &str)> = match args.layer.as_deref() {
        Some("all") => outputs
            .iter()
            .map(|(n, _)| (per_layer_path(&args.out, n), n.as_str()))
            .collect(),
        Some(name) => vec![(args.out.clone(), name)],
        None => vec![(args.out.clone(), outputs[0].0.as_str())],
    };
    for (path, name) in chosen {
        let out = pick_layer(&outputs, name)?;
        let img = feature_grid(out, args.scale, args.gap)?;
        save_png(&path, &img)?;
        println!(
            "{name} {:?} → {} ({}×{} pixels)",
            out.shape(),
            path.display(),
            img.width(),
            img.height()
        );
    }
    Ok(())
}
