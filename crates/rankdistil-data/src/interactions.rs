//! Implicit-feedback data for catalog ranking: RecBole atomic `.inter` files, the MovieLens
//! protocol, and a seeded synthetic catalog with planted structure.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use rand::{RngExt, SeedableRng, rngs::StdRng, seq::SliceRandom};

use crate::error::{DataError, quoted};
use crate::host_memory;

/// One rating event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interaction {
    pub user: u32,
    pub item: u32,
    pub rating: f32,
}

/// Interactions with dense user and item indices.
#[derive(Debug, Clone, Default)]
pub struct Interactions {
    pub users: Vec<String>,
    pub items: Vec<String>,
    pub events: Vec<Interaction>,
}

/// Reads a RecBole atomic `.inter` file: a TSV whose header names typed columns such as
/// `user_id:token item_id:token rating:float timestamp:float`. `rating` is optional (1 when
/// absent). Errors name the file and line.
pub fn read_recbole_inter(path: &Path) -> Result<Interactions, DataError> {
    let file = File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_recbole_inter_from(BufReader::new(file), path)
}

/// [`read_recbole_inter`] of any input; `path` names it in errors.
pub fn read_recbole_inter_from(
    input: impl BufRead,
    path: &Path,
) -> Result<Interactions, DataError> {
    let mut lines = Lines::new(input, path);
    let Some((_, header)) = lines.next_line()? else {
        return Err(DataError::File {
            path: path.to_path_buf(),
            message: "empty file, expected a header like \"user_id:token\\titem_id:token\\trating:float\"".into(),
        });
    };
    let columns = Columns::parse(path, &header)?;
    let mut out = Interactions::default();
    let (mut user_ix, mut item_ix) = (HashMap::new(), HashMap::new());
    while let Some((line_no, line)) = lines.next_line()? {
        if line.is_empty() {
            continue;
        }
        let (user, item, rating) = columns.fields(path, line_no, &line)?;
        let at = |e: String| DataError::parse(path, line_no, e);
        let user = index(&mut user_ix, &mut out.users, user).map_err(at)?;
        let item = index(&mut item_ix, &mut out.items, item).map_err(at)?;
        out.events.push(Interaction { user, item, rating });
        if out.events.len().is_multiple_of(1 << 20) {
            let bytes = out.events.len() as u128 * 2 * size_of::<Interaction>() as u128;
            host_memory::check("the interactions read so far", bytes).map_err(at)?;
        }
    }
    if out.events.is_empty() {
        return Err(DataError::File {
            path: path.to_path_buf(),
            message: "no interactions after the header".into(),
        });
    }
    Ok(out)
}

/// A file's lines as text, each numbered; invalid UTF-8 is an error naming its line.
struct Lines<'a, R> {
    input: R,
    path: &'a Path,
    line_no: u64,
    buf: Vec<u8>,
}

impl<'a, R: BufRead> Lines<'a, R> {
    fn new(input: R, path: &'a Path) -> Self {
        Self {
            input,
            path,
            line_no: 0,
            buf: Vec::new(),
        }
    }

    /// The next line without its line ending, and its number.
    fn next_line(&mut self) -> Result<Option<(u64, String)>, DataError> {
        self.buf.clear();
        let n = (self.input.read_until(b'\n', &mut self.buf)).map_err(|source| DataError::Io {
            path: self.path.to_path_buf(),
            source,
        })?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        let text = std::str::from_utf8(&self.buf).map_err(|e| {
            DataError::parse(
                self.path,
                self.line_no,
                format!(
                    "invalid UTF-8 at byte {}, expected text",
                    e.valid_up_to() + 1
                ),
            )
        })?;
        let text = text.trim_end_matches('\n').trim_end_matches('\r');
        Ok(Some((self.line_no, text.to_string())))
    }
}

/// The dense index of `key`, given it one if it is new.
fn index(
    map: &mut HashMap<String, u32>,
    names: &mut Vec<String>,
    key: &str,
) -> Result<u32, String> {
    if let Some(&i) = map.get(key) {
        return Ok(i);
    }
    let i = u32::try_from(names.len())
        .map_err(|_| format!("more than {} distinct ids, expected fewer", u32::MAX))?;
    map.insert(key.to_string(), i);
    names.push(key.to_string());
    Ok(i)
}

/// Where a `.inter` file keeps its fields.
struct Columns {
    count: usize,
    user: usize,
    item: usize,
    rating: Option<usize>,
}

impl Columns {
    fn parse(path: &Path, header: &str) -> Result<Self, DataError> {
        let columns: Vec<&str> = header.trim_end_matches('\r').split('\t').collect();
        let find = |name: &str| {
            columns
                .iter()
                .position(|c| c.split(':').next() == Some(name))
        };
        let (Some(user), Some(item)) = (find("user_id"), find("item_id")) else {
            return Err(DataError::parse(
                path,
                1,
                format!(
                    "header \"{}\" lacks user_id and item_id columns, expected e.g. \"user_id:token\\titem_id:token\"",
                    quoted(header)
                ),
            ));
        };
        Ok(Self {
            count: columns.len(),
            user,
            item,
            rating: find("rating"),
        })
    }

    /// The user, item and rating of line `line_no`.
    fn fields<'a>(
        &self,
        path: &Path,
        line_no: u64,
        line: &'a str,
    ) -> Result<(&'a str, &'a str, f32), DataError> {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != self.count {
            return Err(DataError::parse(
                path,
                line_no,
                format!(
                    "{} tab-separated fields, expected {} as in the header",
                    fields.len(),
                    self.count
                ),
            ));
        }
        let rating = match self.rating {
            Some(c) => fields[c]
                .parse::<f32>()
                .ok()
                .filter(|r| r.is_finite())
                .ok_or_else(|| {
                    DataError::parse(
                        path,
                        line_no,
                        format!("rating \"{}\" is not a finite number", quoted(fields[c])),
                    )
                })?,
            None => 1.0,
        };
        Ok((fields[self.user], fields[self.item], rating))
    }
}

impl Interactions {
    /// The interactions with item indices in `catalog`'s order (a trained model's item ids), so
    /// a model reused on another file of the same catalog reads the right rows. Interactions
    /// with an item the catalog lacks are dropped; returns them as (distinct unknown item ids,
    /// dropped interactions).
    pub fn into_catalog(self, catalog: &[String]) -> (Self, Vec<String>, usize) {
        let index: HashMap<&str, u32> = catalog
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i as u32))
            .collect();
        let to_catalog: Vec<Option<u32>> = self
            .items
            .iter()
            .map(|id| index.get(id.as_str()).copied())
            .collect();
        let unknown: Vec<String> = self
            .items
            .iter()
            .zip(&to_catalog)
            .filter(|(_, c)| c.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        let before = self.events.len();
        let events: Vec<Interaction> = self
            .events
            .into_iter()
            .filter_map(|e| to_catalog[e.item as usize].map(|item| Interaction { item, ..e }))
            .collect();
        let dropped = before - events.len();
        let aligned = Self {
            users: self.users,
            items: catalog.to_vec(),
            events,
        };
        (aligned, unknown, dropped)
    }

    /// [`Self::into_catalog`] where every item must be in the catalog; an unknown one is an
    /// error naming it.
    pub fn aligned_to(self, catalog: &[String]) -> Result<Self, DataError> {
        let (aligned, unknown, _) = self.into_catalog(catalog);
        match unknown.first() {
            None => Ok(aligned),
            Some(first) => Err(DataError::Invalid(format!(
                "{} items of the data are not in the model's catalog of {} (first: \"{}\")",
                unknown.len(),
                catalog.len(),
                quoted(first)
            ))),
        }
    }
}

/// Per-user train and held-out positives over a catalog of `num_items`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImplicitSplit {
    pub num_items: usize,
    /// Sorted item ids per user.
    pub train: Vec<Vec<u32>>,
    pub test: Vec<Vec<u32>>,
}

impl ImplicitSplit {
    /// The MovieLens protocol: ratings `>= min_rating` are positives; `holdout` of each user's
    /// positives (rounded, at least one when the user has two or more) are held out, seeded.
    pub fn from_ratings(data: &Interactions, min_rating: f32, holdout: f64, seed: u64) -> Self {
        let mut per_user: Vec<Vec<u32>> = vec![Vec::new(); data.users.len()];
        for e in &data.events {
            if e.rating >= min_rating {
                per_user[e.user as usize].push(e.item);
            }
        }
        for items in &mut per_user {
            items.sort_unstable();
            items.dedup();
        }
        Self::held_out(data.items.len(), per_user, holdout, seed)
    }

    /// The training positives split again the same way, `share` of each user's held out: a
    /// validation split that never touches the test items.
    pub fn validation(&self, share: f64, seed: u64) -> Self {
        Self::held_out(self.num_items, self.train.clone(), share, seed)
    }

    /// Holds out `share` of each user's sorted, distinct `items` (rounded, at least one when
    /// the user has two or more), seeded.
    fn held_out(num_items: usize, per_user: Vec<Vec<u32>>, share: f64, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for mut items in per_user {
            items.shuffle(&mut rng);
            let held = if items.len() >= 2 {
                ((items.len() as f64 * share).round() as usize).clamp(1, items.len() - 1)
            } else {
                0
            };
            let mut te = items.split_off(items.len() - held);
            items.sort_unstable();
            te.sort_unstable();
            train.push(items);
            test.push(te);
        }
        Self {
            num_items,
            train,
            test,
        }
    }

    /// Users with both training and held-out items (the ones evaluated).
    pub fn evaluable(&self) -> Vec<usize> {
        (0..self.train.len())
            .filter(|&u| !self.train[u].is_empty() && !self.test[u].is_empty())
            .collect()
    }
}

/// A seeded synthetic catalog: users and items share planted latent factors plus item
/// popularity, and each user's positives are the items of highest noisy affinity.
pub fn synthetic_catalog(
    users: usize,
    items: usize,
    per_user: usize,
    dim: usize,
    seed: u64,
) -> Interactions {
    let mut rng = StdRng::seed_from_u64(seed);
    let item_vecs: Vec<f32> = (0..items * dim).map(|_| normal_from(&mut rng)).collect();
    let popularity: Vec<f32> = (0..items).map(|_| normal_from(&mut rng)).collect();
    let mut out = Interactions {
        users: (0..users).map(|u| format!("u{u}")).collect(),
        items: (0..items).map(|i| format!("i{i}")).collect(),
        events: Vec::new(),
    };
    let zipf_rank = PopularityOrder::new(items);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    for u in 0..users {
        let user_vec: Vec<f32> = (0..dim).map(|_| normal_from(&mut rng)).collect();
        // Score a candidate pool (all items for small catalogs) and keep the best per_user.
        // A large catalog's pool is drawn by popularity, Zipf-like (P(rank) ∝ 1/rank), and
        // popular items score higher: as in real catalogs, a head of items recurs across users,
        // so a model can learn it from far fewer interactions than there are items.
        let pool: Vec<(u32, f32)> = if items <= 4096 {
            (0..items as u32).map(|i| (i, 0.0)).collect()
        } else {
            let mut pool: Vec<(u32, f32)> = (0..4096)
                .map(|_| {
                    let (rank, item) = zipf_rank.draw(rng.random::<f64>());
                    (item, -HEAD_WEIGHT * (1.0 + rank as f32).ln())
                })
                .collect();
            pool.sort_unstable_by_key(|&(item, _)| item);
            pool.dedup_by_key(|&mut (item, _)| item);
            pool
        };
        let mut scored: Vec<(f32, u32)> = pool
            .into_iter()
            .map(|(i, head)| {
                let v = &item_vecs[i as usize * dim..(i as usize + 1) * dim];
                let a: f32 =
                    v.iter().zip(&user_vec).map(|(x, y)| x * y).sum::<f32>() / (dim as f32).sqrt();
                (
                    a + 0.5 * popularity[i as usize] + head + 0.3 * normal_from(&mut rng),
                    i,
                )
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.dedup_by_key(|s| s.1);
        for &(_, i) in scored.iter().take(per_user) {
            out.events.push(Interaction {
                user: u as u32,
                item: i,
                rating: 5.0,
            });
        }
    }
    out
}

/// How much a large catalog's users prefer popular items: the score of the item at popularity
/// rank r gains `-HEAD_WEIGHT · ln(1 + r)`.
const HEAD_WEIGHT: f32 = 0.1;

/// Items by popularity rank: rank r is item `(r · stride) mod L`, a bijection that scatters the
/// head over the ids, and ranks are drawn with P(rank ≤ r) = ln(r + 1) / ln(L + 1), a Zipf law
/// with exponent 1.
struct PopularityOrder {
    items: u64,
    stride: u64,
}

impl PopularityOrder {
    fn new(items: usize) -> Self {
        let items = items.max(1) as u64;
        let gcd = |mut a: u64, mut b: u64| {
            while b != 0 {
                (a, b) = (b, a % b);
            }
            a
        };
        // Near the golden ratio of L, and coprime with it so every item has one rank.
        let mut stride = (items as f64 * 0.618_033_988_7) as u64 | 1;
        while gcd(stride, items) != 1 {
            stride += 2;
        }
        Self { items, stride }
    }

    /// The rank drawn by `u` uniform in [0, 1), and its item.
    fn draw(&self, u: f64) -> (u64, u32) {
        let rank = (((self.items as f64 + 1.0).powf(u) - 1.0) as u64).min(self.items - 1);
        (rank, (rank * self.stride % self.items) as u32)
    }
}

fn normal_from(rng: &mut StdRng) -> f32 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}
