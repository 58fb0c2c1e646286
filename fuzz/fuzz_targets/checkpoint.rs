//! Reading arbitrary bytes as a training checkpoint and building its model: an error
//! naming the file, or a checkpoint, never a panic or an abort.
#![no_main]
use libfuzzer_sys::fuzz_target;
use splot::train::read_checkpoint;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::write("last.safetensors", data);
    if let Ok(checkpoint) = read_checkpoint(&path) {
        let _ = checkpoint.build_model(&path);
    }
});
