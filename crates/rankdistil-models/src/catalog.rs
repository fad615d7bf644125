use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;

/// A catalog scorer: a query tower over the user's history (a bag of item embeddings, then an
/// MLP) gives a D-dim embedding, scored by dot product against an item table `[L, D]` plus a
/// per-item bias.
#[derive(Config, Debug)]
pub struct CatalogScorerConfig {
    /// L, the catalog size.
    pub num_items: usize,
    /// D, the query and item embedding width.
    pub dim: usize,
    /// Hidden widths of the tower between the history bag and the D-dim output.
    #[config(default = "Vec::new()")]
    pub hidden: Vec<usize>,
    /// Dropout inside the tower (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl CatalogScorerConfig {
    pub fn init(&self, device: &Device) -> CatalogScorer {
        let bag = *self.hidden.first().unwrap_or(&self.dim);
        let mut widths = vec![bag];
        widths.extend(self.hidden.iter().skip(1));
        widths.push(self.dim);
        CatalogScorer {
            history: EmbeddingConfig::new(self.num_items, bag).init(device),
            tower: widths
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).init(device))
                .collect(),
            items: EmbeddingConfig::new(self.num_items, self.dim).init(device),
            bias: EmbeddingConfig::new(self.num_items, 1).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            relu: Relu::new(),
        }
    }

    /// Trainable parameters (saturating: a size past `usize` is one no machine holds).
    pub fn num_params(&self) -> usize {
        let bag = *self.hidden.first().unwrap_or(&self.dim);
        let mut widths = vec![bag];
        widths.extend(self.hidden.iter().skip(1));
        widths.push(self.dim);
        let tower = (widths.windows(2))
            .map(|w| w[0].saturating_mul(w[1]).saturating_add(w[1]))
            .fold(0usize, usize::saturating_add);
        let tables = bag.saturating_add(self.dim).saturating_add(1);
        self.num_items.saturating_mul(tables).saturating_add(tower)
    }
}

#[derive(Module, Debug)]
pub struct CatalogScorer {
    history: Embedding,
    tower: Vec<Linear>,
    items: Embedding,
    bias: Embedding,
    dropout: Dropout,
    relu: Relu,
}

impl CatalogScorer {
    /// The query embedding of each history.
    ///
    /// - history: `[B, H]` item ids (any id in padded slots)
    /// - mask: `[B, H]`, true for a real history item
    /// - output: `[B, D]`
    pub fn query(&self, history: Tensor<2, Int>, mask: Tensor<2, Bool>) -> Tensor<2> {
        self.query_from(self.history.weight.val(), history, mask)
    }

    /// [`Self::query`] with the history table given: `rows` `[U, E]` are the table rows that
    /// `history` indexes. Row-sparse training passes only the rows a batch touches.
    pub fn query_from(
        &self,
        rows: Tensor<2>,
        history: Tensor<2, Int>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<2> {
        let [b, h] = history.dims();
        let e = rows.dims()[1];
        let weights = mask.float(); // [B, H]
        let count = weights.clone().sum_dim(1).clamp_min(1.0); // [B, 1]
        let embedded = rows.select(0, history.reshape([b * h])).reshape([b, h, e]); // [B, H, E]
        let bag = (embedded * weights.unsqueeze_dim::<3>(2))
            .sum_dim(1)
            .squeeze_dim::<2>(1)
            / count; // [B, E]
        let mut x = self.dropout.forward(bag);
        for (i, layer) in self.tower.iter().enumerate() {
            x = layer.forward(x);
            if i + 1 < self.tower.len() {
                x = self.dropout.forward(self.relu.forward(x));
            }
        }
        x // [B, D]
    }

    /// Every query against the same item rows, in one product: the item table's rows `[R, D]`
    /// and their biases `[R, 1]`, for a candidate set a whole batch shares.
    ///
    /// - query: `[B, D]`; output: `[B, R]`
    pub fn score_rows_from(
        &self,
        items: Tensor<2>,
        bias: Tensor<2>,
        query: Tensor<2>,
    ) -> Tensor<2> {
        query.matmul(items.transpose()) + bias.transpose()
    }

    /// The per-item tables: history embeddings `[L, E]`, item embeddings `[L, D]`, biases
    /// `[L, 1]`.
    pub fn tables(&self) -> [Tensor<2>; 3] {
        [
            self.history.weight.val(),
            self.items.weight.val(),
            self.bias.weight.val(),
        ]
    }

    /// This scorer with its per-item tables replaced (same shapes, same parameter ids), for an
    /// optimizer that updates only the rows a batch touched.
    pub fn with_tables(mut self, [history, items, bias]: [Tensor<2>; 3]) -> Self {
        let replace = |param: burn::module::Param<Tensor<2>>, new: Tensor<2>| {
            assert_eq!(param.dims(), new.dims(), "a table keeps its shape");
            param.map(|old| new.set_require_grad(old.is_require_grad()))
        };
        self.history.weight = replace(self.history.weight, history);
        self.items.weight = replace(self.items.weight, items);
        self.bias.weight = replace(self.bias.weight, bias);
        self
    }

    /// Scores of items `range` of the catalog: `[B, D] -> [B, range.len()]`. Scoring the whole
    /// catalog in chunks keeps every buffer small whatever L is.
    pub fn score_range(&self, query: Tensor<2>, range: std::ops::Range<usize>) -> Tensor<2> {
        let d = query.dims()[1];
        let table = self.items.weight.val().slice([range.clone(), 0..d]); // [R, D]
        let bias = self.bias.weight.val().slice([range, 0..1]).transpose(); // [1, R]
        query.matmul(table.transpose()) + bias
    }

    /// Catalog size L.
    pub fn num_items(&self) -> usize {
        self.items.weight.dims()[0]
    }
}
