//! List ranking: one MLP scores each item of a query's list of features; teachers train from
//! labels, students from a teacher's scores.

pub mod compare;
pub mod config;
pub mod data;
pub mod export;
pub mod footprint;
pub mod label_run;
pub mod onnx;
pub mod quickstart;
pub mod resident;
pub mod run_dir;
pub mod run_inputs;
pub mod scoring;
pub mod serve;
pub mod teacher;
pub mod teacher_file;
pub mod training;
