//! Single-precision matrix multiplication through the `gemm` crate (runtime CPU feature
//! detection, AVX-512 included), on the rayon pool.

/// A read-only strided matrix view: element `(i, j)` is `data[i·row_stride + j·col_stride]`.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    /// Backing values.
    pub data: &'a [f32],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance between rows.
    pub row_stride: usize,
    /// Distance between columns.
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// A `rows × cols` matrix whose rows start `row_stride` values apart (columns adjacent).
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `c = a·b` (or `c += a·b` when `accumulate`), `c` row-major `a.rows × b.cols`, using
/// every thread of the pool for large products.
pub fn sgemm(a: MatRef, b: MatRef, c: &mut [f32], accumulate: bool) {
    sgemm_with(a, b, c, accumulate, true)
}

/// [`sgemm`], on the calling thread only unless `parallel` (for callers that already split
/// their work across threads).
pub fn sgemm_with(a: MatRef, b: MatRef, c: &mut [f32], accumulate: bool, parallel: bool) {
    sgemm_strided(a, b, c, b.cols, accumulate, parallel)
}

/// [`sgemm_with`] into a `c` whose rows start `c_row_stride` values apart (`≥ b.cols`);
/// the values between rows are left alone.
pub fn sgemm_strided(
    a: MatRef,
    b: MatRef,
    c: &mut [f32],
    c_row_stride: usize,
    accumulate: bool,
    parallel: bool,
) {
    let (m, n) = (a.rows, b.cols);
    assert!(
        m == 0 || n == 0 || c.len() >= (m - 1) * c_row_stride + n,
        "sgemm output too small"
    );
    // SAFETY: `c` holds the m×n view (checked above) and is borrowed mutably; `sgemm_raw`
    // checks the rest.
    unsafe { sgemm_raw(a, b, c.as_mut_ptr(), c_row_stride, accumulate, parallel) }
}

/// [`sgemm_strided`] into the `a.rows × b.cols` matrix at `c` whose rows start
/// `c_row_stride ≥ b.cols` values apart, for callers whose threads write disjoint parts
/// of one output (column ranges of the same rows) that no one slice can hand out.
///
/// # Safety
/// `c` must be valid for writes at every `c + i·c_row_stride + j`, `i < a.rows`,
/// `j < b.cols`, and nothing else may read or write those values during the call.
// SAFETY: the promise above is all `gemm::gemm` needs beyond the views, which are checked.
pub unsafe fn sgemm_raw(
    a: MatRef,
    b: MatRef,
    c: *mut f32,
    c_row_stride: usize,
    accumulate: bool,
    parallel: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "sgemm inner dimensions");
    assert!(a.fits() && b.fits(), "sgemm view out of bounds");
    assert!(c_row_stride >= n, "sgemm output rows overlap");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                // SAFETY: row i of the view, valid by the caller's promise.
                unsafe { std::ptr::write_bytes(c.add(i * c_row_stride), 0, n) };
            }
        }
        return;
    }
    let threads = rayon::current_num_threads();
    let parallelism = if parallel && threads > 1 && m * n * k >= 64 * 64 * 64 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: every view was checked to lie inside its slice; `c` is the caller's promise.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            c_row_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
