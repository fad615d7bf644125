//! `rankdistil teacher-cache`: a catalog teacher's top-p cache, written once for any number of
//! students.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rankdistil_data::host_memory;

use crate::backend::Backend;
use crate::catalog::data::{CatalogSplit, load_split};
use crate::catalog::model_dir;
use crate::catalog::top_p_cache::build_cache;

/// Scores a catalog teacher's whole catalog once and writes each user's top-p unseen items.
pub struct TeacherCachePlan<'a> {
    /// A catalog teacher folder.
    pub teacher: &'a Path,
    /// A RecBole `.inter` file to score instead of the teacher's own data (same catalog).
    pub data: Option<&'a Path>,
    pub p: usize,
    /// The cache file (default: `<teacher>/teacher-top<p>.bin`).
    pub out: Option<&'a Path>,
}

/// What [`TeacherCachePlan::run`] wrote.
pub struct TeacherCacheReport {
    pub path: PathBuf,
    pub users: usize,
    pub num_items: usize,
    pub seconds: f64,
}

impl TeacherCachePlan<'_> {
    pub fn run(&self, backend: &Backend) -> crate::Result<TeacherCacheReport> {
        let (teacher, meta) = model_dir::load(self.teacher, &backend.device)?;
        let mut data = meta.data.clone();
        if let Some(inter) = self.data {
            data.inter = Some(inter.to_path_buf());
            data.synthetic = None;
        }
        let catalog = model_dir::load_item_ids(self.teacher, meta.num_items)?;
        let CatalogSplit { split, .. } = load_split(&data, Some(&catalog))?;
        crate::error::ensure!(
            split.num_items == meta.num_items,
            "{}: the teacher has {} items but its data now has {}",
            self.teacher.display(),
            meta.num_items,
            split.num_items
        );
        let bytes = split.train.len() as u128 * self.p.min(split.num_items) as u128 * 8;
        host_memory::check(&format!("--p {}", self.p), bytes).map_err(crate::Error::Memory)?;
        let started = Instant::now();
        let cache = build_cache(&teacher, &split, self.p, backend);
        let path = match self.out {
            Some(path) => path.to_path_buf(),
            None => self.teacher.join(format!("teacher-top{}.bin", self.p)),
        };
        cache.write(&path, split.num_items)?;
        Ok(TeacherCacheReport {
            path,
            users: split.train.len(),
            num_items: split.num_items,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
