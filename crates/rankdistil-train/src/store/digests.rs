//! The SHA-256 digests an export's `config.json` records of its other files, and their check:
//! a reader that got the config of one export and a file of another refuses the pair.

use std::path::Path;

use crate::error::bail;
use sha2::{Digest, Sha256};

/// The `config.json` key of the digests: file name → lowercase hex SHA-256.
pub const DIGESTS_KEY: &str = "sha256";

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Checks `bytes`, read from the export's file `name`, against the digest its `config.json`
/// (`config`, at `config_path`) records.
pub fn verify(
    config: &serde_json::Value,
    config_path: &Path,
    name: &str,
    bytes: &[u8],
) -> crate::Result<()> {
    let Some(expected) = config[DIGESTS_KEY][name].as_str() else {
        bail!(
            "{}: records no {DIGESTS_KEY} digest of {name} (written by an older rankdistil, or edited); export it again",
            config_path.display()
        );
    };
    if sha256_hex(bytes) != expected {
        bail!(
            "{}: {name} does not match the digest this config records; the weights and the config come from different exports (replaced while being read?); read it again, or export again",
            config_path.display()
        );
    }
    Ok(())
}
