//! Times beam-search captioning, the splot side of `bench/caption_compare.sh`:
//! `cargo run --release -p splot --example caption_decode -- CHECKPOINT SCENES_DIR
//! [--images N] [--width W] [--reps R] [--threads T]`.
//!
//! Loads a captioning checkpoint, takes the first N (default 100) images of the val split
//! of the COCO-captions directory, and decodes them `R` times (default 3) with beam width
//! W (default 3), at most the checkpoint's maximum length, without length normalisation
//! difference from `splot caption eval` (α = 0.7). Prints the best caption of every image
//! once (to compare with PyTorch's), then `captions_per_s <best of the R runs>`.
use splot::tasks::caption::{beam_search, load_captioner, loader, CaptionData, DecodeConfig};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> splot::Result<()> {
    let mut args = std::env::args().skip(1);
    let checkpoint = PathBuf::from(args.next().expect("CHECKPOINT"));
    let scenes = PathBuf::from(args.next().expect("SCENES_DIR"));
    let (mut images, mut width, mut reps, mut threads) = (100usize, 3usize, 3usize, None);
    while let Some(a) = args.next() {
        let v: usize = args.next().and_then(|v| v.parse().ok()).expect("a number");
        match a.as_str() {
            "--images" => images = v,
            "--width" => width = v,
            "--reps" => reps = v.max(1),
            "--threads" => threads = Some(v),
            _ => panic!("unknown argument {a}"),
        }
    }
    splot::init_threads(threads);
    let c = load_captioner(&checkpoint)?;
    let data = CaptionData::open(&scenes)?;
    let l = loader(
        &c.model,
        c.options.image_size,
        data.val,
        images,
        Some(images),
        None,
    )?;
    let batch = l.epoch(0).next().expect("one batch")?;
    let cfg = DecodeConfig {
        width,
        max_len: c.options.max_len,
        length_penalty: 0.7,
        k: 1,
    };
    let mut best = f64::INFINITY;
    let mut captions = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let hyps = splot::run_in_pool(|| beam_search(&c.model, &batch.images, &cfg))?;
        best = best.min(t.elapsed().as_secs_f64());
        captions = hyps
            .into_iter()
            .map(|h| c.vocab.decode(&h[0].tokens))
            .collect();
    }
    for cap in &captions {
        println!("caption {cap}");
    }
    println!("captions_per_s {:.2}", batch.len() as f64 / best);
    Ok(())
}
