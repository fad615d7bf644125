//! Burnpack weights: saved atomically, and loaded with a clear error when the file is damaged
//! or was written for another architecture.

use std::path::Path;

use crate::error::Context;
use burn::module::Module;
use burn::store::ModuleRecord;

use crate::store::atomic::write_atomic;

/// A module's record as burnpack bytes.
pub fn to_bytes<M: Module>(model: &M) -> crate::Result<burn::tensor::Bytes> {
    model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| crate::error::invalid!("cannot encode the model: {e:?}"))
}

/// Saves a module's weights atomically as burnpack.
pub fn save_model<M: Module>(model: &M, path: &Path) -> crate::Result<()> {
    let bytes = to_bytes(model).with_context(|| path.display().to_string())?;
    Ok(write_atomic(path, &bytes)?)
}

/// Reads a burnpack file's record.
pub fn read_record(path: &Path) -> crate::Result<ModuleRecord> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("{}: cannot read the checkpoint", path.display()))?;
    record_of(bytes, path)
}

/// `bytes`, read from `path`, as a burnpack record.
fn record_of(bytes: Vec<u8>, path: &Path) -> crate::Result<ModuleRecord> {
    ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes)).map_err(|e| {
        crate::error::invalid!(
            "{}: not a readable burnpack checkpoint (truncated or foreign file?): {e:?}",
            path.display()
        )
    })
}

/// Loads burnpack weights into `model`. A record for another architecture makes burn panic;
/// it is reported as a mismatch instead, with `describe()` naming the expected architecture.
pub fn load_into<M: Module>(
    path: &Path,
    model: M,
    describe: impl FnOnce() -> String,
) -> crate::Result<M> {
    load_record_into(read_record(path)?, path, model, describe)
}

/// [`load_into`] from burnpack `bytes` already read from `path`.
pub fn load_bytes_into<M: Module>(
    bytes: Vec<u8>,
    path: &Path,
    model: M,
    describe: impl FnOnce() -> String,
) -> crate::Result<M> {
    load_record_into(record_of(bytes, path)?, path, model, describe)
}

fn load_record_into<M: Module>(
    record: ModuleRecord,
    path: &Path,
    model: M,
    describe: impl FnOnce() -> String,
) -> crate::Result<M> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let loaded =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.load_record(record)));
    std::panic::set_hook(previous);
    loaded.map_err(|_| {
        crate::error::invalid!(
            "{}: the weights do not fit the recorded architecture ({})",
            path.display(),
            describe()
        )
    })
}
