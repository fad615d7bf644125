//! A teacher's scores from outside rankdistil: a TREC run (`qid Q0 docid rank score tag`, as
//! LightGBM, a cross-encoder or any ranker writes it) or a plain file of one score per line of
//! the LETOR file it scores. Scores are matched to the data's rows by qid and document id (a
//! LETOR line's `# docid = ...`, else its line number), as `score` writes them.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::error::{Context, bail};
use rankdistil_data::{LetorOptions, LetorReader, RankingDataset, quoted};

/// A document of a scores file: its qid and document id.
type Key = (String, String);

/// Which value of a file gives the teacher's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TeacherColumn {
    /// The scores, highest first.
    #[default]
    Scores,
    /// The ranks, 1 first, read as the score `−rank`: for a ranker whose scores mean nothing
    /// (an LLM reranker writing a TREC run), and for the losses that read only the order
    /// (`adr_mse`, `rrd`, `listmle_kd`).
    Ranks,
}

/// The scores of one file, by document, with the line each came from.
pub struct TeacherFile {
    path: PathBuf,
    scores: HashMap<Key, (f32, u64)>,
}

impl TeacherFile {
    /// Reads `path`. A plain file (one score per line) is matched line by line to `letor`, the
    /// LETOR file it scores; a TREC run needs none.
    pub fn read(path: &Path, letor: Option<&Path>, column: TeacherColumn) -> crate::Result<Self> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("{}: cannot read the teacher's scores", path.display()))?;
        let mut lines = BufReader::new(file).lines().enumerate();
        let mut scores = HashMap::new();
        let mut plain = None;
        while let Some((n, line)) = lines.next() {
            let line_no = n as u64 + 1;
            let line = line.with_context(|| format!("{}:{line_no}", path.display()))?;
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.is_empty() {
                continue;
            }
            let is_plain = *plain.get_or_insert(fields.len() == 1);
            if is_plain {
                let rest = std::iter::once((n, Ok(line))).chain(lines.by_ref());
                return Self::read_plain(path, letor, rest, column);
            }
            let (key, score) = trec_line(&fields, column).map_err(|e| at(path, line_no, e))?;
            insert(&mut scores, key, score, path, line_no)?;
        }
        if scores.is_empty() {
            bail!(
                "{}: no scores, expected TREC run lines \"qid Q0 docid rank score tag\" or one score per line",
                path.display()
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
            scores,
        })
    }

    /// One score per line, the lines of the LETOR file `letor` in order.
    fn read_plain(
        path: &Path,
        letor: Option<&Path>,
        lines: impl Iterator<Item = (usize, std::io::Result<String>)>,
        column: TeacherColumn,
    ) -> crate::Result<Self> {
        let Some(letor) = letor else {
            bail!(
                "{}: one score per line needs the LETOR file it scores, and this data has none: give a TREC run (\"qid Q0 docid rank score tag\")",
                path.display()
            );
        };
        let mut documents = letor_documents(letor)?.into_iter();
        let mut scores = HashMap::new();
        let mut count = 0usize;
        for (n, line) in lines {
            let line_no = n as u64 + 1;
            let line = line.with_context(|| format!("{}:{line_no}", path.display()))?;
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            let score = parse_value(text, column).map_err(|e| at(path, line_no, e))?;
            let Some(key) = documents.next() else {
                bail!(
                    "{}:{line_no}: more scores than the {count} data lines of {}",
                    path.display(),
                    letor.display()
                );
            };
            insert(&mut scores, key, score, path, line_no)?;
            count += 1;
        }
        let missing = documents.count();
        if missing > 0 {
            bail!(
                "{}: {count} scores for the {} data lines of {}, expected one per line",
                path.display(),
                count + missing,
                letor.display()
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
            scores,
        })
    }

    /// One score per row of `data`, in row order, taking each from the file; a row the file
    /// has no score for is an error that names it.
    pub fn take_scores(&mut self, data: &RankingDataset) -> crate::Result<Vec<f32>> {
        let mut out = Vec::with_capacity(data.num_rows());
        for q in 0..data.num_queries() {
            let qid = &data.qids[q];
            for doc in &data.doc_ids[data.offsets[q]..data.offsets[q + 1]] {
                let key = (qid.clone(), doc.clone());
                let Some((score, _)) = self.scores.remove(&key) else {
                    bail!(
                        "{}: no score for qid {} docid {}, a document of the data",
                        self.path.display(),
                        quoted(qid),
                        quoted(doc)
                    );
                };
                out.push(score);
            }
        }
        Ok(out)
    }

    /// Whether the file scores the first document of `data` (and so, presumably, all of it).
    pub fn scores(&self, data: &RankingDataset) -> bool {
        let first = data.qids.first().zip(data.doc_ids.first());
        first.is_some_and(|(q, d)| self.scores.contains_key(&(q.clone(), d.clone())))
    }

    /// Errs on a score no row took: a document the data does not have.
    pub fn finish(self) -> crate::Result<()> {
        let first = self.scores.iter().min_by_key(|(_, (_, line))| *line);
        match first {
            None => Ok(()),
            Some(((qid, doc), (_, line))) => bail!(
                "{}:{line}: a score for qid {} docid {}, which the data has no row for",
                self.path.display(),
                quoted(qid),
                quoted(doc)
            ),
        }
    }
}

fn at(path: &Path, line: u64, message: String) -> crate::Error {
    crate::Error::Data(rankdistil_data::DataError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    })
}

fn parse_score(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(s) if s.is_finite() => Ok(s),
        Ok(_) => Err(format!(
            "score {} is not finite, expected a finite number",
            quoted(text)
        )),
        Err(_) => Err(format!(
            "score \"{}\" is not a number, expected a finite number",
            quoted(text)
        )),
    }
}

/// A score, or a rank (a whole number >= 1) read as the score `−rank`.
fn parse_value(text: &str, column: TeacherColumn) -> Result<f32, String> {
    match column {
        TeacherColumn::Scores => parse_score(text),
        TeacherColumn::Ranks => match text.parse::<u32>() {
            Ok(r) if r >= 1 => Ok(-(r as f32)),
            _ => Err(format!(
                "rank \"{}\" is not a whole number >= 1 (--teacher-ranks reads ranks)",
                quoted(text)
            )),
        },
    }
}

/// `qid Q0 docid rank score tag`.
fn trec_line(fields: &[&str], column: TeacherColumn) -> Result<(Key, f32), String> {
    if fields.len() != 6 || fields[1] != "Q0" {
        return Err(format!(
            "\"{}\" is not a TREC run line, expected \"qid Q0 docid rank score tag\"",
            quoted(&fields.join(" "))
        ));
    }
    let value = match column {
        TeacherColumn::Scores => fields[4],
        TeacherColumn::Ranks => fields[3],
    };
    let score = parse_value(value, column)?;
    Ok(((fields[0].to_string(), fields[2].to_string()), score))
}

fn insert(
    scores: &mut HashMap<Key, (f32, u64)>,
    key: Key,
    score: f32,
    path: &Path,
    line: u64,
) -> crate::Result<()> {
    if let Some((_, first)) = scores.get(&key) {
        bail!(
            "{}:{line}: qid {} docid {} was scored already at line {first}, expected one score per document",
            path.display(),
            quoted(&key.0),
            quoted(&key.1)
        );
    }
    scores.insert(key, (score, line));
    Ok(())
}

/// The (qid, docid) of every data line of a LETOR file, in order.
fn letor_documents(letor: &Path) -> crate::Result<Vec<Key>> {
    let mut reader = LetorReader::open(letor, LetorOptions::default())?;
    let mut documents = Vec::new();
    while let Some(query) = reader.next_query()? {
        let qid = query.qid;
        documents.extend(query.doc_ids.into_iter().map(|d| (qid.clone(), d)));
    }
    Ok(documents)
}
