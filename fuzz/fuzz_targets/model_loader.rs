//! Loads arbitrary bytes as a model file. Any outcome other than `Ok` or a
//! `ModelFileError` (a panic, an abort, running out of memory) is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = outrange::Sequential::load_bytes(data, std::path::Path::new("fuzz.safetensors"));
});
