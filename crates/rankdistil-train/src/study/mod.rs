//! `rankdistil study`: does a method beat the baselines under an equal tuning budget? Every
//! method draws the same number of trials from its own grid, is chosen on validation, runs
//! on the final seeds, and is compared on the test split with paired bootstrap intervals;
//! a size sweep traces NDCG@10 against student parameters. The record (`study.json`) lets an
//! interrupted study resume without redoing finished runs.

pub mod book;
pub mod catalog;
pub mod catalog_config;
pub mod config;
pub mod drive;
pub mod list;
pub mod report;
pub mod search;
pub mod significance;
