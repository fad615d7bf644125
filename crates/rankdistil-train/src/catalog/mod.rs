//! Catalog ranking: a query tower scores every item of a catalog of 10³–10⁶ items (MovieLens
//! style implicit feedback); students learn from the teacher's top-p cache with sampled
//! RankDistil, whose cost does not grow with the catalog.

pub mod config;
pub mod data;
pub mod export;
pub mod footprint;
pub mod model_dir;
pub mod onnx;
pub mod recommend;
pub mod row_adam;
pub mod rows;
pub mod run;
pub mod scoring;
pub mod sparse;
pub mod table;
pub mod teacher_cache;
pub mod top_p_cache;
pub mod training;
pub mod user_metrics;
