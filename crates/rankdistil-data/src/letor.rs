//! Streaming reader for the LETOR / SVMlight ranking format used by MSLR-WEB, Yahoo and Istella:
//!
//! ```text
//! rel qid:Q idx:val idx:val ... [# comment]
//! ```
//!
//! Indices start at 1 and may be sparse (a missing index is 0). CRLF endings, trailing spaces,
//! blank lines and `#` comment lines are accepted. A query's lines must be contiguous.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::dataset::RankingDataset;
use crate::error::{DataError, quoted};
use crate::host_memory;

/// The most features a file may have: an index past it is an error, not an allocation of
/// gigabytes for a row.
pub const MAX_FEATURES: usize = 1 << 20;

/// The largest relevance grade whose gain `2^y − 1` is finite in f32.
pub const MAX_LABEL: f32 = 127.0;

/// How to read a LETOR file.
#[derive(Debug, Clone, Copy, Default)]
pub struct LetorOptions {
    /// The number of features. `None` infers it from the largest index in the file; `Some(f)`
    /// makes any index above `f` an error.
    pub num_features: Option<usize>,
}

/// One query's rows as read from the file.
#[derive(Debug, Clone, Default)]
pub struct LetorQuery {
    pub qid: String,
    /// `[labels.len() * width]`, row-major, where `width` is the reader's current width.
    pub features: Vec<f32>,
    pub labels: Vec<f32>,
    pub doc_ids: Vec<String>,
    /// Line number of each row (1-based).
    pub lines: Vec<u64>,
    pub width: usize,
}

/// Reads a LETOR stream one query at a time, never holding more than one query in memory.
pub struct LetorReader<R: BufRead> {
    input: R,
    path: PathBuf,
    options: LetorOptions,
    line_no: u64,
    buf: Vec<u8>,
    /// The first row of the next query, read ahead while closing the current one.
    pending: Option<Row>,
    /// qid -> (first line, last line) of every query already finished.
    seen: HashMap<String, (u64, u64)>,
    /// The largest index seen so far (the inferred width), or the configured width.
    width: usize,
    /// The largest index seen so far, whatever the configured width.
    largest: usize,
    /// Per-index stamp of the last line that set it, to find duplicates in O(1).
    stamp: Vec<u64>,
    rows_read: u64,
}

#[derive(Debug)]
struct Row {
    line: u64,
    qid: String,
    label: f32,
    /// (0-based index, value) pairs.
    values: Vec<(usize, f32)>,
    doc_id: Option<String>,
}

impl LetorReader<BufReader<File>> {
    pub fn open(path: impl AsRef<Path>, options: LetorOptions) -> Result<Self, DataError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self::new(
            BufReader::with_capacity(1 << 20, file),
            path,
            options,
        ))
    }
}

impl<R: BufRead> LetorReader<R> {
    /// A reader of `input`; a configured width past [`MAX_FEATURES`] is read as that cap, and
    /// any index past it is an error.
    pub fn new(input: R, path: impl AsRef<Path>, options: LetorOptions) -> Self {
        let options = LetorOptions {
            num_features: options.num_features.map(|f| f.min(MAX_FEATURES)),
        };
        Self {
            input,
            path: path.as_ref().to_path_buf(),
            options,
            line_no: 0,
            buf: Vec::with_capacity(4096),
            pending: None,
            seen: HashMap::new(),
            width: options.num_features.unwrap_or(0),
            largest: 0,
            stamp: Vec::new(),
            rows_read: 0,
        }
    }

    /// The feature width so far: the configured one, or the largest index seen.
    pub fn width(&self) -> usize {
        self.width
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The largest feature index (1-based) of the rows read so far: the file's feature count
    /// once it is read through.
    pub fn largest_index(&self) -> usize {
        self.largest
    }

    /// Refuses a file read through whose feature count is not `expected` (a model's input
    /// width): fewer features would be read as zeros, and score in silence.
    pub fn check_feature_count(&self, expected: usize, what: &str) -> Result<(), DataError> {
        if self.largest == expected {
            return Ok(());
        }
        Err(DataError::File {
            path: self.path.clone(),
            message: format!(
                "the file has {} features (its largest index), but {what} takes {expected}; use data with the features the model was trained on",
                self.largest
            ),
        })
    }

    /// The next query, or `None` at the end of the file. An empty file is an error.
    pub fn next_query(&mut self) -> Result<Option<LetorQuery>, DataError> {
        let first = match self.pending.take() {
            Some(row) => row,
            None => match self.next_row()? {
                Some(row) => row,
                None => {
                    if self.rows_read == 0 {
                        return Err(DataError::File {
                            path: self.path.clone(),
                            message:
                                "no data lines, expected LETOR lines \"rel qid:Q idx:val ...\""
                                    .into(),
                        });
                    }
                    return Ok(None);
                }
            },
        };
        if let Some(&(a, b)) = self.seen.get(&first.qid) {
            return Err(DataError::parse(
                &self.path,
                first.line,
                format!(
                    "qid {} reappears, but a query's lines must be contiguous; it already appeared at lines {a}-{b}",
                    first.qid
                ),
            ));
        }
        let mut query = LetorQuery {
            qid: first.qid.clone(),
            ..Default::default()
        };
        let mut rows = vec![first];
        loop {
            match self.next_row()? {
                Some(row) if row.qid == query.qid => rows.push(row),
                Some(row) => {
                    self.pending = Some(row);
                    break;
                }
                None => break,
            }
        }
        let width = self.width;
        query.width = width;
        let bytes = rows.len() as u128 * width as u128 * 4;
        host_memory::check(&format!("qid {}", quoted(&query.qid)), bytes)
            .map_err(|e| DataError::parse(&self.path, rows[0].line, e))?;
        query.features = vec![0.0; rows.len() * width];
        for (r, row) in rows.into_iter().enumerate() {
            for (i, v) in row.values {
                query.features[r * width + i] = v;
            }
            query.labels.push(row.label);
            query
                .doc_ids
                .push(row.doc_id.unwrap_or_else(|| row.line.to_string()));
            query.lines.push(row.line);
        }
        let first_line = query.lines[0];
        let last_line = *query.lines.last().expect("a query has a row");
        self.seen.insert(query.qid.clone(), (first_line, last_line));
        Ok(Some(query))
    }

    fn next_row(&mut self) -> Result<Option<Row>, DataError> {
        loop {
            self.buf.clear();
            let n = self
                .input
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| DataError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            let line = self.line_no;
            let text = std::str::from_utf8(&self.buf).map_err(|_| {
                DataError::parse(&self.path, line, "invalid UTF-8, expected ASCII LETOR text")
            })?;
            let (data, comment) = match text.find('#') {
                Some(i) => (&text[..i], Some(&text[i + 1..])),
                None => (text, None),
            };
            let data = data.trim();
            if data.is_empty() {
                continue;
            }
            let row = parse_row(
                data,
                comment,
                line,
                &self.path,
                self.options.num_features,
                &mut self.stamp,
            )?;
            if let Some(max) = row.values.iter().map(|&(i, _)| i + 1).max() {
                self.width = self.width.max(max);
                self.largest = self.largest.max(max);
            }
            self.rows_read += 1;
            return Ok(Some(row));
        }
    }
}

fn parse_row(
    data: &str,
    comment: Option<&str>,
    line: u64,
    path: &Path,
    max_features: Option<usize>,
    stamp: &mut Vec<u64>,
) -> Result<Row, DataError> {
    let err = |m: String| DataError::parse(path, line, m);
    let mut tokens = data.split_ascii_whitespace();
    let label_tok = tokens.next().expect("a trimmed non-empty line has a token");
    let label = parse_label(label_tok).map_err(err)?;
    let qid = match tokens.next() {
        Some(t) if t.starts_with("qid:") && t.len() > 4 => t[4..].to_string(),
        Some(t) => {
            return Err(err(format!(
                "found \"{}\" after the label, expected \"qid:<id>\"",
                quoted(t)
            )));
        }
        None => {
            return Err(err(
                "the line ends after the label, expected \"qid:<id>\"".into()
            ));
        }
    };
    let mut values = Vec::with_capacity(max_features.unwrap_or(64).min(1024));
    for tok in tokens {
        let Some((idx, val)) = tok.split_once(':') else {
            return Err(err(format!(
                "found \"{}\", expected a feature \"index:value\"",
                quoted(tok)
            )));
        };
        let idx: usize = idx.parse().map_err(|_| {
            err(format!(
                "invalid feature index \"{}\" in \"{}\", expected an integer >= 1",
                quoted(idx),
                quoted(tok)
            ))
        })?;
        check_index(idx, tok, max_features).map_err(err)?;
        let value: f32 = val.parse().map_err(|_| {
            err(format!(
                "invalid value \"{}\" for feature {idx}, expected a number",
                quoted(val)
            ))
        })?;
        if !value.is_finite() {
            return Err(err(format!(
                "value \"{}\" for feature {idx} is not finite, expected a finite number",
                quoted(val)
            )));
        }
        if stamp.len() < idx {
            stamp.resize(idx, 0);
        }
        if stamp[idx - 1] == line {
            return Err(err(format!(
                "feature index {idx} appears twice on the line, expected each index at most once"
            )));
        }
        stamp[idx - 1] = line;
        values.push((idx - 1, value));
    }
    let doc_id = comment.and_then(parse_doc_id);
    Ok(Row {
        line,
        qid,
        label,
        values,
        doc_id,
    })
}

/// A relevance grade: a finite number from 0 to [`MAX_LABEL`].
fn parse_label(tok: &str) -> Result<f32, String> {
    let label: f32 = tok.parse().map_err(|_| {
        format!(
            "invalid label \"{}\", expected a number (the relevance grade)",
            quoted(tok)
        )
    })?;
    if !label.is_finite() || label < 0.0 {
        return Err(format!(
            "label {} is not a finite number >= 0, expected a relevance grade",
            quoted(tok)
        ));
    }
    if label > MAX_LABEL {
        return Err(format!(
            "label {} is too large: its gain 2^label - 1 overflows; expected a relevance grade of at most {MAX_LABEL}",
            quoted(tok)
        ));
    }
    Ok(label)
}

/// A feature index must start at 1 and stay within the configured features, or within
/// [`MAX_FEATURES`] when the width is inferred.
fn check_index(idx: usize, tok: &str, max_features: Option<usize>) -> Result<(), String> {
    if idx == 0 {
        return Err(format!(
            "feature index 0 in \"{}\", expected indices starting at 1",
            quoted(tok)
        ));
    }
    match max_features {
        Some(max) if idx > max => Err(format!(
            "feature index {idx} exceeds the configured {max} features"
        )),
        None if idx > MAX_FEATURES => Err(format!(
            "feature index {idx} is past the {MAX_FEATURES} features rankdistil reads at most"
        )),
        _ => Ok(()),
    }
}

/// `docid = X` (or `docid=X`) in a LETOR comment.
fn parse_doc_id(comment: &str) -> Option<String> {
    let i = comment.find("docid")?;
    let rest = comment[i + 5..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let id: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    (!id.is_empty()).then_some(id)
}

/// Reads a whole LETOR file into a [`RankingDataset`], streaming it line by line.
pub fn read_letor(
    path: impl AsRef<Path>,
    options: LetorOptions,
) -> Result<RankingDataset, DataError> {
    let mut reader = LetorReader::open(path, options)?;
    read_all(&mut reader)
}

/// Reads every query from an open reader.
pub fn read_all<R: BufRead>(reader: &mut LetorReader<R>) -> Result<RankingDataset, DataError> {
    let mut data = RankingDataset::new(reader.width());
    while let Some(q) = reader.next_query()? {
        let rows = (data.num_rows() + q.labels.len()) as u128;
        let bytes = rows * q.width.max(data.num_features) as u128 * 4;
        host_memory::check("the features read so far", bytes)
            .map_err(|e| DataError::parse(reader.path(), q.lines[0], e))?;
        if q.width > data.num_features {
            data.widen(q.width);
        }
        let f = data.num_features;
        let features = if q.width == f {
            q.features
        } else {
            let mut wide = vec![0.0; q.labels.len() * f];
            for r in 0..q.labels.len() {
                wide[r * f..r * f + q.width]
                    .copy_from_slice(&q.features[r * q.width..(r + 1) * q.width]);
            }
            wide
        };
        data.push_query(q.qid, &features, &q.labels, q.doc_ids)?;
    }
    Ok(data)
}

/// Writes a data set as LETOR text (dense, 1-based indices).
pub fn write_letor(data: &RankingDataset, out: &mut impl std::io::Write) -> std::io::Result<()> {
    for q in 0..data.num_queries() {
        let view = data.query(q);
        for r in 0..view.len() {
            write!(out, "{} qid:{}", view.labels[r], view.qid)?;
            for (i, v) in view.features[r * view.num_features..(r + 1) * view.num_features]
                .iter()
                .enumerate()
            {
                write!(out, " {}:{}", i + 1, v)?;
            }
            writeln!(out, " # docid = {}", view.doc_ids[r])?;
        }
    }
    Ok(())
}
