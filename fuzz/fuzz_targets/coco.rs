//! A COCO annotation file of arbitrary bytes over a directory of one real picture, read as
//! instances and as captions, every sample loaded: errors naming the file, or samples,
//! never a panic or an abort.
#![no_main]
use libfuzzer_sys::fuzz_target;
use splot::data::{coco_captions, coco_instances, Dataset};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    // a 4×3 picture that image entries can name (`a.png`)
    let images = common::scratch().join("images");
    if !images.join("a.png").is_file() {
        std::fs::create_dir_all(&images).expect("images directory");
        let img = splot::data::Image::new(3, 3, 4, vec![7u8; 36]).expect("an image");
        splot::data::image::write_image(&images.join("a.png"), &img).expect("a picture");
    }
    let annotations = common::write("annotations.json", data);
    for dataset in [
        coco_instances(&images, &annotations),
        coco_captions(&images, &annotations),
    ]
    .into_iter()
    .flatten()
    {
        for i in 0..dataset.len().min(8) {
            let _ = dataset.get(i);
        }
        let _ = dataset.classes();
    }
});
