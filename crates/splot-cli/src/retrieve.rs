//! `splot index` and `splot search`: retrieval by a layer's features (see
//! `splot::tasks::retrieve`).
//! - `splot index [CHECKPOINT] DATA --layer NAME --out FILE` (or `--model NAME --weights
//!   FILE`, or `--model NAME --random` for untrained weights): the L2-normalised features of
//!   one split of DATA, with the images' entries and labels.
//! - `splot search FILE IMAGE --k 8 [--out grid.png]`: the nearest neighbours of a picture
//!   with their cosine similarity, and the query drawn beside them.
//! - `splot search FILE --eval QUERIES`: precision@1, precision@10 and mAP of the images of
//!   the index QUERIES against FILE's, "same class" as relevance.

use clap::Args;
use splot::tasks::classify::{ordered_loader, ClassifyData};
use splot::tasks::retrieve::{build_network, evaluate, neighbour_grid, search, Extractor, Index};
use splot::viz::features::read_picture;
use splot::{Error, Result};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct IndexArgs {
    /// A checkpoint of `splot train` and then the data; with --model, only the data (a
    /// directory with train/ and val/, IDX files, or a CSV of path,label).
    #[arg(required = true, num_args = 1..=2)]
    inputs: Vec<PathBuf>,
    /// A zoo network (resnet18, alexnet, lenet5, …), with --weights or --random.
    #[arg(long)]
    model: Option<String>,
    /// The zoo network's weights: safetensors with torchvision's names.
    #[arg(long, requires = "model", conflicts_with = "random")]
    weights: Option<PathBuf>,
    /// Untrained weights from --seed (the baseline of learned features).
    #[arg(long, requires = "model")]
    random: bool,
    /// Seed of --random.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The layer whose output is the feature (`f6`, `c5`, `avgpool`, `classifier.5`), or
    /// `pixels` for the prepared image itself.
    #[arg(long)]
    layer: String,
    /// Index the evaluation split (val/, test/, IDX test files) instead of the training one.
    #[arg(long)]
    val: bool,
    /// The index file to write (safetensors).
    #[arg(long)]
    out: PathBuf,
}

pub fn index(args: &IndexArgs) -> Result<()> {
    let zoo = args.model.is_some();
    let (weights, model, data_path) = match (zoo, &args.inputs[..]) {
        (false, [checkpoint, data]) => {
            let ck = splot::train::read_checkpoint(checkpoint)?;
            (
                format!("checkpoint:{}", checkpoint.display()),
                ck.config.model,
                data,
            )
        }
        (true, [data]) => {
            let model = args.model.clone().unwrap_or_default();
            let weights = match (&args.weights, args.random) {
                (Some(w), false) => format!("weights:{}", w.display()),
                (None, true) => format!("random:{}", args.seed),
                _ => {
                    return Err(Error::Parse {
                        what: "index",
                        msg: "--model needs --weights FILE or --random".into(),
                    })
                }
            };
            (weights, model, data)
        }
        _ => {
            return Err(Error::Parse {
                what: "index",
                msg: "give a checkpoint and the data, or --model NAME (--weights FILE | --random) and the data".into(),
            })
        }
    };
    let (net, input) = build_network(&model, &weights)?;
    let extractor = Extractor::new(&net, &model, &weights, &args.layer, input)?;
    let data = ClassifyData::open(Some(data_path), None)?;
    let loader = ordered_loader(&model, input, &data, !args.val)?;
    let split = if args.val { "val" } else { "train" };
    let start = Instant::now();
    let index = splot::run_in_pool(|| {
        Index::build(
            &net,
            extractor,
            &loader,
            &data,
            &data_path.display().to_string(),
            split,
        )
    })?;
    index.save(&args.out)?;
    println!(
        "{} images of {} ({split}) → {}-value features of {} in {:.1} s → {}",
        index.len(),
        data.description,
        index.dim,
        index.extractor.describe(),
        start.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

#[derive(Args)]
pub struct SearchArgs {
    /// An index written by `splot index`.
    index: PathBuf,
    /// The picture to search for (PNG or JPEG), prepared as `splot predict` prepares it.
    #[arg(required_unless_present = "eval", conflicts_with = "eval")]
    image: Option<PathBuf>,
    /// Neighbours to show.
    #[arg(long, default_value_t = 8)]
    k: usize,
    /// Draw the query beside its neighbours into this PNG.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Evaluate instead: the images of this index (built with the same model and layer)
    /// are the queries.
    #[arg(long, value_name = "QUERIES")]
    eval: Option<PathBuf>,
}

pub fn search_run(args: &SearchArgs) -> Result<()> {
    let gallery = Index::load(&args.index)?;
    if let Some(queries) = &args.eval {
        let queries = Index::load(queries)?;
        let start = Instant::now();
        let m = splot::run_in_pool(|| evaluate(&gallery, &queries))?;
        println!(
            "{} queries ({}) against {} images ({}), {}: precision@1 {:.4}, precision@10 {:.4}, mAP {:.4} ({:.1} s)",
            m.queries,
            queries.split,
            gallery.len(),
            gallery.split,
            gallery.extractor.describe(),
            m.precision_at_1,
            m.precision_at_10,
            m.map,
            start.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let image = args
        .image
        .as_ref()
        .expect("clap requires IMAGE without --eval");
    if args.k == 0 {
        return Err(Error::Parse {
            what: "search",
            msg: "--k must be at least 1".into(),
        });
    }
    let net = gallery.extractor.rebuild()?;
    let picture = read_picture(image, gallery.extractor.input)?;
    let (query, dim) = gallery.extractor.features(&net, &picture)?;
    if dim != gallery.dim {
        return Err(Error::config(
            "search",
            format!(
                "the query has {dim} feature values but the index {}",
                gallery.dim
            ),
        ));
    }
    let hits = splot::run_in_pool(|| search(&gallery.features, &query, dim, args.k));
    let hits = &hits[0];
    println!(
        "{}: the {} nearest of {} images by {}",
        image.display(),
        hits.len(),
        gallery.len(),
        gallery.extractor.describe()
    );
    for (rank, &(row, sim)) in hits.iter().enumerate() {
        println!(
            "{:>3}. {sim:.4}  {} (class {})",
            rank + 1,
            gallery.entries[row],
            gallery.classes[gallery.labels[row]]
        );
    }
    if let Some(out) = &args.out {
        let data = ClassifyData::open(Some(std::path::Path::new(&gallery.data)), None)?;
        let split = if gallery.split == "val" {
            &data.val
        } else {
            &data.train
        };
        let neighbours = hits
            .iter()
            .map(|&(row, _)| split.get(row).map(|s| s.image))
            .collect::<Result<Vec<_>>>()?;
        let query = splot::data::image::read_image(image)?;
        splot::viz::save_png(out, &neighbour_grid(&query, &neighbours, 64)?)?;
        println!("→ {}", out.display());
    }
    Ok(())
}
