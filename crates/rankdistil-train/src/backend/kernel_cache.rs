//! CubeCL's persistent caches: compiled kernels and autotune results kept across processes,
//! so a second run of the same shapes skips compilation and autotuning.

use std::path::PathBuf;

use burn::cubecl::config::autotune::AutotuneLevel;
use burn::cubecl::config::cache::CacheConfig;
use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};

/// Where the caches go: `$RANKDISTIL_CACHE_DIR/cubecl`, else the user's cache directory
/// (`$XDG_CACHE_HOME`, else `~/.cache`) under `rankdistil/cubecl`.
pub fn directory() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).map(PathBuf::from);
    directory_from(
        var("RANKDISTIL_CACHE_DIR"),
        var("XDG_CACHE_HOME"),
        var("HOME"),
    )
}

fn directory_from(
    rankdistil: Option<PathBuf>,
    xdg: Option<PathBuf>,
    home: Option<PathBuf>,
) -> Option<PathBuf> {
    if let Some(dir) = rankdistil {
        return Some(dir.join("cubecl"));
    }
    let base = xdg.or_else(|| home.map(|h| h.join(".cache")))?;
    Some(base.join("rankdistil").join("cubecl"))
}

/// Turns on the compiled-kernel cache and points CubeCL's caches at [`directory`], keeping
/// any setting of a `cubecl.toml` or `burn.toml` the user has. On a `software` adapter
/// autotuning runs at its minimal level. Call before a GPU device is opened. Returns the
/// directory the caches use, if rankdistil chose it.
pub fn enable(software: bool) -> Option<PathBuf> {
    let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
    config.compilation.cache = true;
    if software {
        config.autotune.level = AutotuneLevel::Minimal;
    }
    let chosen = match &config.environment.path {
        // The default keeps them in a `target/` folder, which an installed binary has not.
        CacheConfig::Target => directory(),
        _ => None,
    };
    if let Some(dir) = &chosen {
        config.environment.path = CacheConfig::Directory(dir.clone());
    }
    // Already read (a device was opened before): the caches are where they already are.
    CubeClRuntimeConfig::try_set(config)
        .then_some(chosen)
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_lives_in_the_users_cache_directory() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(
            directory_from(None, None, p("/home/u")),
            p("/home/u/.cache/rankdistil/cubecl")
        );
        assert_eq!(
            directory_from(None, p("/xdg"), p("/home/u")),
            p("/xdg/rankdistil/cubecl")
        );
        assert_eq!(
            directory_from(p("/ci/cache"), p("/xdg"), p("/home/u")),
            p("/ci/cache/cubecl")
        );
        assert_eq!(directory_from(None, None, None), None);
    }
}
