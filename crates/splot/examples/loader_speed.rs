//! splot's side of the loader-speed benchmark (`bench/loader_compare.sh`): an ImageFolder
//! of JPEGs through RGB + RandomResizedCrop(224) + HorizontalFlip + ImageNet Normalize,
//! batches of 32 on `workers` threads, shuffled. Times `epochs` epochs from the first
//! batch of each (worker start-up excluded) and prints `images_per_s N` for the best.
//! `cargo run --release -p splot --example loader_speed -- DIR [workers] [epochs]`
use splot::data::image::{IMAGENET_MEAN, IMAGENET_STD};
use splot::data::transforms::{HorizontalFlip, Normalize, RandomResizedCrop, ToChannels};
use splot::data::{image_folder, Dataset, Loader, LoaderConfig, Pipeline};
use std::sync::Arc;
use std::time::Instant;

fn main() -> splot::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let root = args
        .get(1)
        .expect("usage: loader_speed DIR [workers] [epochs]");
    let workers: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(2);
    let epochs: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(2);
    let data: Arc<dyn Dataset> = Arc::new(image_folder(std::path::Path::new(root))?);
    let pipeline = Pipeline::new(Normalize::new(&IMAGENET_MEAN, &IMAGENET_STD)?)
        .then(ToChannels(3))?
        .then(RandomResizedCrop::new(224, 224))?
        .then(HorizontalFlip::new(0.5))?;
    let config = LoaderConfig {
        batch_size: 32,
        workers,
        ..Default::default()
    };
    let loader = Loader::with_pipeline(data, pipeline, config)?;
    let mut best = 0.0f64;
    for epoch in 0..epochs {
        let mut it = loader.epoch(epoch);
        it.next().transpose()?;
        let (start, mut n) = (Instant::now(), 0usize);
        for batch in it {
            let batch = batch?;
            assert_eq!(&batch.images.shape()[1..], &[3, 224, 224]);
            n += batch.len();
        }
        best = best.max(n as f64 / start.elapsed().as_secs_f64());
    }
    println!("images_per_s {best:.1}");
    Ok(())
}
