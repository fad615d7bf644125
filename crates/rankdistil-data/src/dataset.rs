use crate::error::DataError;

/// A learning-to-rank data set held as one dense row-major feature matrix.
///
/// Rows of one query are contiguous; `offsets[q]..offsets[q + 1]` are the rows of query `q`.
#[derive(Debug, Clone, Default)]
pub struct RankingDataset {
    pub num_features: usize,
    /// `[rows * num_features]`, row-major.
    pub features: Vec<f32>,
    /// Graded relevance per row.
    pub labels: Vec<f32>,
    /// Query id per query.
    pub qids: Vec<String>,
    /// `qids.len() + 1` row offsets.
    pub offsets: Vec<usize>,
    /// Document id per row: the LETOR comment's `docid = ...` when present, else the line number.
    pub doc_ids: Vec<String>,
}

/// A borrowed view of one query's rows.
#[derive(Debug, Clone, Copy)]
pub struct QueryView<'a> {
    pub qid: &'a str,
    pub num_features: usize,
    /// `[n * num_features]`.
    pub features: &'a [f32],
    pub labels: &'a [f32],
    pub doc_ids: &'a [String],
}

impl QueryView<'_> {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

impl RankingDataset {
    pub fn new(num_features: usize) -> Self {
        Self {
            num_features,
            offsets: vec![0],
            ..Default::default()
        }
    }

    pub fn num_queries(&self) -> usize {
        self.qids.len()
    }

    pub fn num_rows(&self) -> usize {
        self.labels.len()
    }

    pub fn query(&self, q: usize) -> QueryView<'_> {
        let (a, b) = (self.offsets[q], self.offsets[q + 1]);
        let f = self.num_features;
        QueryView {
            qid: &self.qids[q],
            num_features: f,
            features: &self.features[a * f..b * f],
            labels: &self.labels[a..b],
            doc_ids: &self.doc_ids[a..b],
        }
    }

    pub fn list_len(&self, q: usize) -> usize {
        self.offsets[q + 1] - self.offsets[q]
    }

    pub fn max_list_len(&self) -> usize {
        (0..self.num_queries())
            .map(|q| self.list_len(q))
            .max()
            .unwrap_or(0)
    }

    /// Appends one whole query. `features` is `[labels.len() * num_features]`.
    pub fn push_query(
        &mut self,
        qid: impl Into<String>,
        features: &[f32],
        labels: &[f32],
        doc_ids: Vec<String>,
    ) -> Result<(), DataError> {
        if features.len() != labels.len() * self.num_features || doc_ids.len() != labels.len() {
            return Err(DataError::Invalid(format!(
                "query with {} labels needs {} feature values and {} doc ids, got {} and {}",
                labels.len(),
                labels.len() * self.num_features,
                labels.len(),
                features.len(),
                doc_ids.len()
            )));
        }
        self.features.extend_from_slice(features);
        self.labels.extend_from_slice(labels);
        self.doc_ids.extend(doc_ids);
        self.qids.push(qid.into());
        self.offsets.push(self.labels.len());
        Ok(())
    }

    /// A new data set holding the given queries, in that order.
    pub fn subset(&self, queries: &[usize]) -> RankingDataset {
        let mut out = RankingDataset::new(self.num_features);
        for &q in queries {
            let v = self.query(q);
            out.push_query(v.qid, v.features, v.labels, v.doc_ids.to_vec())
                .expect("a view of a valid data set is valid");
        }
        out
    }

    /// Splits off the last `fraction` of the queries (by a seeded shuffle) as a second set.
    pub fn split(&self, fraction: f64, seed: u64) -> (RankingDataset, RankingDataset) {
        use rand::{SeedableRng, seq::SliceRandom};
        let mut order: Vec<usize> = (0..self.num_queries()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let held = ((self.num_queries() as f64) * fraction).round() as usize;
        let held = held.min(self.num_queries().saturating_sub(1));
        let (b, a) = order.split_at(held);
        let (mut a, mut b) = (a.to_vec(), b.to_vec());
        a.sort_unstable();
        b.sort_unstable();
        (self.subset(&a), self.subset(&b))
    }

    /// Widens every row to `width` features, filling zeros (sparse LETOR files may omit the
    /// highest indices).
    pub fn widen(&mut self, width: usize) {
        if width <= self.num_features {
            return;
        }
        let old = self.num_features;
        let rows = self.num_rows();
        let mut out = vec![0.0f32; rows * width];
        for r in 0..rows {
            out[r * width..r * width + old].copy_from_slice(&self.features[r * old..(r + 1) * old]);
        }
        self.features = out;
        self.num_features = width;
    }
}
