//! Process-wide settings the CLI applies once, before any other thread starts.

use crate::progress::notice;

/// Prepares the process for training: glibc keeps freed tensor buffers for reuse,
/// matrixmultiply runs single-threaded inside ndarray's own parallel loop, a closed pipe
/// ends the process quietly, and a panic on a driver's thread ends it with one line.
///
/// # Safety
///
/// Call it first thing in `main`, while no other thread exists: it writes the environment.
pub unsafe fn prepare() {
    keep_freed_buffers();
    quiet_on_closed_pipe();
    exit_on_background_panic();
    // ndarray runs the lists of a batched product in parallel on rayon, and matrixmultiply
    // would start threads of its own inside each one, oversubscribing the cores (see
    // docs/BENCHMARKS.md). flex multiplies with gemm, which does not read this.
    if std::env::var_os("MATMUL_NUM_THREADS").is_none() {
        // SAFETY: the caller guarantees no other thread reads the environment.
        unsafe { std::env::set_var("MATMUL_NUM_THREADS", "1") };
    }
}

/// glibc serves a block above its mmap threshold with a fresh mapping and unmaps it on free,
/// and returns freed memory at the top of the heap past its trim threshold. Both start at
/// 128 KiB and adapt only in some allocation patterns, so a loop that allocates a few
/// tensor-sized blocks per step can page-fault every fresh page, every step. This fixes the
/// mmap threshold at glibc's maximum (32 MiB) and keeps up to 1 GiB of freed heap for reuse,
/// unless the user tunes malloc through the environment.
fn keep_freed_buffers() {
    let user_tuned = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("malloc"))
        || std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("MALLOC_"));
    if user_tuned {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// Rust ignores SIGPIPE, so `rankdistil bench | head` would panic in `println!` once `head`
/// exits. With the default action restored, the process ends silently, as other Unix tools do.
fn quiet_on_closed_pipe() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: restoring a signal's default action touches no Rust state.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A panic on a thread other than main (a GPU driver's poll thread, such as wgpu's GL backend
/// failing to take its context lock) would leave main waiting for work that never completes.
/// Such a panic instead prints one line and ends the process with status 1.
fn exit_on_background_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        if thread.name() == Some("main") {
            return default(info);
        }
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        let at = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()));
        notice!(
            "error: a background thread of the backend failed{}: {what}",
            at.unwrap_or_default()
        );
        std::process::exit(1);
    }));
}
