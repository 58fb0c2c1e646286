//! The IDX reader (MNIST's format) on arbitrary bytes: an error or an array, never a panic,
//! and an array it accepts writes back to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use splot::data::IdxArray;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(array) = IdxArray::parse(data, Path::new("fuzz.idx")) {
        let again = IdxArray::parse(&array.to_bytes(), Path::new("again.idx"))
            .expect("an accepted array reads back");
        assert_eq!(again.dims, array.dims);
    }
});
