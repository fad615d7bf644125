//! A data file a config names that is not there: one line that says so, and which fetch
//! brings it when it is one of the real data sets `scripts/fetch-datasets.sh` fetches.

use std::path::Path;

use crate::error::bail;

/// The `scripts/fetch-datasets.sh` name of the data set a path lies in, if it is one.
fn fetch_name(path: &Path) -> Option<&'static str> {
    path.components()
        .find_map(|c| match c.as_os_str().to_str()? {
            "mslr" => Some("mslr"),
            "ml-100k" => Some("movielens"),
            "ml-1m" => Some("movielens-1m"),
            _ => None,
        })
}

/// Refuses a data file that does not exist, naming the fetch that brings it.
pub(crate) fn require(path: &Path) -> crate::Result<()> {
    if path.exists() {
        return Ok(());
    }
    match fetch_name(path) {
        Some(name) => bail!(
            "{}: not found; fetch it with scripts/fetch-datasets.sh {name}",
            path.display()
        ),
        None => bail!("{}: not found", path.display()),
    }
}
