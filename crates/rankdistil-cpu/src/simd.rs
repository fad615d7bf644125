/// Runs `f` compiled for the widest vector extension this CPU has (AVX-512, AVX2 or the
/// baseline), so the loops it inlines vectorize for it. The crate itself is built for the
/// baseline x86-64, whose SSE2 loops run at a quarter of AVX-512's width.
#[inline(always)]
pub(crate) fn simd<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}
