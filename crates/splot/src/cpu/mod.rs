//! Low-level kernels with no autograd: GEMM, im2col/col2im convolution, thread setup.

pub mod conv;
pub mod direct;
pub mod gemm;
pub mod math;
pub(crate) mod par;
pub(crate) mod scratch;
mod winograd;

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

/// Runs `f` on a thread of splot's pool and returns its result: meant for a whole training
/// step (forward, backward, optimiser). The parallel ops inside then share their work with
/// the pool directly, instead of each one handing it over from the calling thread and
/// sleeping until it is done (a thread switch per op). Called from inside the pool, `f` runs
/// where it is. The calling thread's gradient mode ([`crate::autograd::no_grad`]) holds
/// inside `f`.
pub fn run_in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let grad_enabled = crate::autograd::is_grad_enabled();
    rayon::scope(move |_| {
        let _mode = crate::autograd::GradModeGuard::set(grad_enabled);
        f()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_in_pool_returns_the_result_and_keeps_the_gradient_mode() {
        assert!(super::run_in_pool(crate::autograd::is_grad_enabled));
        let inside =
            crate::autograd::no_grad(|| super::run_in_pool(crate::autograd::is_grad_enabled));
        assert!(!inside);
        assert_eq!(super::run_in_pool(|| 6 * 7), 42);
    }
}
