//! glibc malloc settings for a process that frees and reallocates tensor-sized buffers.
//!
//! glibc serves a block above its mmap threshold with a fresh mapping and unmaps it on free,
//! and it returns freed memory at the top of the heap to the kernel past its trim threshold.
//! Both thresholds start at 128 KiB and adapt only in some allocation patterns, so a loop that
//! allocates a few 16 MiB score blocks per step can page-fault every fresh page, every step:
//! after a flex catalog teacher had trained, its full-catalog evaluation spent more time in the
//! kernel's page-fault handler than in the matmul (12.9 s against 5.1 s with fixed thresholds,
//! 2,000 users × 10⁶ items).

/// Fixes the mmap threshold at glibc's maximum (32 MiB) and keeps up to 1 GiB of freed heap
/// for reuse. Leaves glibc alone when the user tunes malloc through the environment.
pub fn keep_freed_buffers() {
    let user_tuned = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("malloc"))
        || std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("MALLOC_"));
    if user_tuned {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before other threads
    // exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
