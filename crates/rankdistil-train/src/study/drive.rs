//! The flow every study follows, over lists or a catalog: tune each method on validation,
//! run the chosen settings on the final seeds, sweep the student's size, and record the
//! findings. What a run trains on is the [`StudyRunner`]'s; what runs, in which order, and
//! what the record keeps is said once, here.

use std::collections::BTreeMap;
use std::path::Path;

use crate::progress::{self, Event};
use crate::study::book::{Book, Phase, StudyRun};
use crate::study::report::{Findings, Protocol, TeacherSummary};
use crate::study::search::{Knobs, choose, describe};

/// A study's config, where it writes, and whether it continues the record there.
pub struct Study<'a, C> {
    pub config: &'a C,
    pub out: &'a Path,
    pub resume: bool,
}

/// One student run a study asks for.
#[derive(Debug, Clone, Copy)]
pub struct RunSpec<'a> {
    /// The method's name, as the record and the tables write it.
    pub method: &'a str,
    pub knobs: &'a Knobs,
    pub phase: Phase,
    pub seed: u64,
    /// The sweep's size (hidden widths, or `[D]` for a catalog); `None` for the study's own.
    pub size: Option<&'a [usize]>,
}

/// What training and measuring one student gave.
pub struct Measured {
    pub params: usize,
    /// NaN for a run without validation.
    pub valid_ndcg10: f64,
    pub test: Option<BTreeMap<String, f64>>,
    pub test_per_unit: Option<Vec<f64>>,
    pub seconds: f64,
}

impl RunSpec<'_> {
    /// The record of this run.
    pub fn record(&self, measured: Measured) -> StudyRun {
        let Measured {
            params,
            valid_ndcg10,
            test,
            test_per_unit,
            seconds,
        } = measured;
        StudyRun {
            phase: self.phase,
            method: self.method.into(),
            knobs: self.knobs.clone(),
            seed: self.seed,
            size: self.size.map(<[usize]>::to_vec),
            params,
            valid_ndcg10,
            test,
            test_per_unit,
            seconds,
        }
    }
}

/// The student sizes a sweep trains, and on which seeds.
pub struct Sweep<'a> {
    pub sizes: Vec<Vec<usize>>,
    pub seeds: &'a [u64],
}

/// What one kind of study trains.
pub trait StudyRunner {
    /// Each method's name and its tuning trials, in the config's order.
    fn trials(&self) -> Vec<(String, Vec<Knobs>)>;
    /// Trains the student `spec` asks for, and measures it: on validation when tuning, on the
    /// test split otherwise.
    fn train(&self, spec: &RunSpec) -> crate::Result<StudyRun>;
    /// How a sweep's size reads in the log (`hidden [32]`, `dim 8`).
    fn size_label(&self, size: &[usize]) -> String;
}

/// What the study runs beyond the runner's methods.
pub struct Plan<'a> {
    pub protocol: Protocol<'a>,
    pub sweep: Option<Sweep<'a>>,
}

/// Runs what the record lacks, in order, and returns the findings (also kept in the record).
pub fn drive(
    runner: &impl StudyRunner,
    book: &mut Book,
    plan: &Plan,
    teacher: TeacherSummary,
) -> crate::Result<Findings> {
    let tuning_seed = plan.protocol.seed;
    let mut chosen = Vec::new();
    for (method, trials) in runner.trials() {
        let knobs = choose(&method, trials, |knobs| {
            let spec = spec(&method, knobs, Phase::Tune, tuning_seed, None);
            Ok(ensure(runner, book, &spec)?.valid_ndcg10)
        })?;
        chosen.push((method, knobs));
    }
    for (method, knobs) in &chosen {
        for &seed in plan.protocol.seeds {
            ensure(runner, book, &spec(method, knobs, Phase::Final, seed, None))?;
        }
    }
    let findings = Findings::new(&plan.protocol, book, teacher, &chosen);
    if let Some(sweep) = &plan.sweep {
        for size in &sweep.sizes {
            for (method, knobs) in findings.sweep_methods(&chosen) {
                for &seed in sweep.seeds {
                    let size = Some(size.as_slice());
                    ensure(runner, book, &spec(method, knobs, Phase::Sweep, seed, size))?;
                }
            }
        }
    }
    let findings = Findings::new(&plan.protocol, book, findings.teacher, &chosen);
    book.summary = findings.json();
    book.save()?;
    Ok(findings)
}

fn spec<'a>(
    method: &'a str,
    knobs: &'a Knobs,
    phase: Phase,
    seed: u64,
    size: Option<&'a [usize]>,
) -> RunSpec<'a> {
    RunSpec {
        method,
        knobs,
        phase,
        seed,
        size,
    }
}

/// The recorded run of `spec`, trained now if the record lacks it.
fn ensure(runner: &impl StudyRunner, book: &mut Book, spec: &RunSpec) -> crate::Result<StudyRun> {
    let RunSpec {
        method,
        knobs,
        phase,
        seed,
        size,
    } = *spec;
    if let Some(run) = book.find(phase, method, knobs, seed, size) {
        return Ok(run.clone());
    }
    let run = runner.train(spec)?;
    progress::emit(Event::StudyRun {
        phase: format!("{phase:?}"),
        method: method.to_string(),
        seed,
        knobs: describe(knobs),
        size: size.map(|s| runner.size_label(s)),
        valid_ndcg10: Some(run.valid_ndcg10).filter(|v| !v.is_nan()),
        test_ndcg10: run.test.as_ref().and_then(|t| t.get("ndcg@10")).copied(),
        seconds: run.seconds,
    });
    book.add(run.clone())?;
    Ok(run)
}
