//! `splot pad --input TEXT` on arbitrary text, padded in every mode by a padding taken
//! from the input: an error naming what is wrong, or the padded table, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use splot::viz::pad::parse_image;
use splot::{Padding2d, PaddingMode};

fuzz_target!(|data: &[u8]| {
    let Some((&pad, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(image) = parse_image(text) else {
        return;
    };
    for mode in PaddingMode::ALL {
        if let Ok(padded) = image.pad2d(Padding2d::same(pad as usize % 16), mode) {
            assert_eq!(padded.ndim(), 4);
        }
    }
});
