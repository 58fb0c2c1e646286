//! A Pascal VOC segmentation directory whose split list and mask are arbitrary bytes
//! (the input is `list \0\0 mask`), every sample loaded: errors naming the file, or
//! samples, never a panic or an abort.
#![no_main]
use libfuzzer_sys::fuzz_target;
use splot::data::{voc_segmentation, Dataset};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (list, mask) = common::split(data, b"\0\0");
    let root = common::scratch().join("voc");
    if !root.join("JPEGImages/a.png").is_file() {
        let img = splot::data::Image::new(3, 3, 4, vec![9u8; 36]).expect("an image");
        std::fs::create_dir_all(root.join("JPEGImages")).expect("dir");
        splot::data::image::write_image(&root.join("JPEGImages/a.png"), &img).expect("picture");
    }
    common::write("voc/ImageSets/Segmentation/train.txt", list);
    common::write("voc/SegmentationClass/a.png", mask);
    if let Ok(dataset) = voc_segmentation(&root, "train") {
        for i in 0..dataset.len().min(8) {
            let _ = dataset.get(i);
        }
    }
});
