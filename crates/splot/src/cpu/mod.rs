//! Low-level kernels with no autograd: GEMM, im2col/col2im convolution, thread setup.

pub mod conv;
pub mod gemm;
pub mod math;
pub(crate) mod scratch;

/// Sets the number of threads of splot's (rayon's global) pool. Call it once, before the
/// first parallel op; `None` reads `SPLOT_NUM_THREADS`, else uses every core. Returns the
/// number of threads in use (a pool that already exists keeps its size).
pub fn init_threads(threads: Option<usize>) -> usize {
    let wanted = threads.or_else(|| {
        std::env::var("SPLOT_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
    });
    if let Some(n) = wanted.filter(|&n| n > 0) {
        // An error means the pool was already built; its size then stands.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    rayon::current_num_threads()
}
