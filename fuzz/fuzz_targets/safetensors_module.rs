//! Loading arbitrary bytes as a safetensors file into LeNet-5: an error naming the file,
//! or the module filled, never a panic or an abort.
#![no_main]
use libfuzzer_sys::fuzz_target;
use splot::io::safetensors::{load, load_module};
use splot::models::lenet5::lenet5;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::write("weights.safetensors", data);
    let _ = load(&path);
    let net = lenet5(&mut splot::Rng::seed(0)).expect("lenet5");
    let _ = load_module(&path, &net);
});
