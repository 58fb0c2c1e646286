//! Decoding arbitrary bytes as a picture, then the preprocessing of prediction (ImageNet's
//! resize and centre crop, MNIST's centring) and of training (resize, crop, normalise):
//! an error naming the file, or tensors of the promised shapes, never a panic or an abort.
#![no_main]
use libfuzzer_sys::fuzz_target;
use splot::data::image::{imagenet_input, mnist_style, read_grey, read_image, read_mask};
use splot::data::transforms::{CenterCrop, Item, Normalize, Pipeline, Resize};
use splot::data::Target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    // the first byte picks the file's name (the readers look at the bytes, not the name)
    let name = if data.first().is_some_and(|b| b & 1 == 1) {
        "picture.jpg"
    } else {
        "picture.png"
    };
    let path = common::write(name, data);
    if let Ok(t) = imagenet_input(&path, 32) {
        assert_eq!(t.shape(), &[1, 3, 32, 32]);
    }
    if let Ok((h, w, grey)) = read_grey(&path) {
        assert_eq!(mnist_style(h, w, &grey).len(), 28 * 28);
    }
    let _ = read_mask(&path);
    if let Ok(image) = read_image(&path) {
        let pipeline = Pipeline::new(Normalize::unit())
            .then(Resize::shorter(20))
            .and_then(|p| p.then(CenterCrop::new(16, 16)))
            .expect("a pipeline");
        let item = Item::new(image, Target::None).expect("an item");
        if let Ok(out) = pipeline.apply(item, &mut splot::Rng::seed(0)) {
            assert_eq!((out.height, out.width), (16, 16));
        }
    }
});
