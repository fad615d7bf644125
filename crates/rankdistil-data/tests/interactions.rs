use rankdistil_data::{ImplicitSplit, read_recbole_inter, synthetic_catalog};

fn file(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

#[test]
fn reads_recbole_atomic_files() {
    let f = file(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\r\n7\t50\t5\t1\n7\t51\t3\t2\n9\t50\t4\t3\n",
    );
    let d = read_recbole_inter(f.path()).unwrap();
    assert_eq!(d.users, vec!["7", "9"]);
    assert_eq!(d.items, vec!["50", "51"]);
    assert_eq!(d.events.len(), 3);
    assert_eq!(
        (d.events[1].user, d.events[1].item, d.events[1].rating),
        (0, 1, 3.0)
    );
}

#[test]
fn bad_inter_files_name_the_line() {
    let f = file("user_id:token\titem_id:token\trating:float\n1\t2\tgood\n");
    let err = read_recbole_inter(f.path()).unwrap_err().to_string();
    assert!(
        err.contains(":2: rating \"good\" is not a finite number"),
        "{err}"
    );
    let f = file("user_id:token\titem_id:token\n1\t2\t3\n");
    let err = read_recbole_inter(f.path()).unwrap_err().to_string();
    assert!(
        err.contains(":2: 3 tab-separated fields, expected 2"),
        "{err}"
    );
    let f = file("user:token\titem:token\n1\t2\n");
    assert!(
        read_recbole_inter(f.path())
            .unwrap_err()
            .to_string()
            .contains(":1: header")
    );
    let f = file("");
    assert!(
        read_recbole_inter(f.path())
            .unwrap_err()
            .to_string()
            .contains("empty file")
    );
}

#[test]
fn the_movielens_protocol_holds_out_a_fifth_of_each_users_positives() {
    let d = synthetic_catalog(50, 300, 20, 8, 3);
    let a = ImplicitSplit::from_ratings(&d, 4.0, 0.2, 1);
    assert_eq!(a, ImplicitSplit::from_ratings(&d, 4.0, 0.2, 1), "seeded");
    assert_ne!(a, ImplicitSplit::from_ratings(&d, 4.0, 0.2, 2));
    for u in 0..50 {
        assert_eq!(a.train[u].len() + a.test[u].len(), 20);
        assert_eq!(a.test[u].len(), 4);
        assert!(a.test[u].iter().all(|i| !a.train[u].contains(i)));
    }
    assert_eq!(a.evaluable().len(), 50);
    // Ratings below the threshold are not positives.
    let mut low = d.clone();
    low.events.iter_mut().for_each(|e| e.rating = 3.0);
    assert!(
        ImplicitSplit::from_ratings(&low, 4.0, 0.2, 1)
            .train
            .iter()
            .all(Vec::is_empty)
    );
}

#[test]
fn a_validation_split_comes_from_the_training_positives_alone() {
    let d = synthetic_catalog(50, 300, 20, 8, 3);
    let split = ImplicitSplit::from_ratings(&d, 4.0, 0.2, 1);
    let tuning = split.validation(0.25, 7);
    assert_eq!(tuning, split.validation(0.25, 7), "seeded");
    for u in 0..50 {
        // 16 training positives: 4 validate, 12 train; the test items are in neither.
        assert_eq!((tuning.train[u].len(), tuning.test[u].len()), (12, 4));
        let mut all = [tuning.train[u].clone(), tuning.test[u].clone()].concat();
        all.sort_unstable();
        assert_eq!(all, split.train[u]);
        assert!(tuning.train[u].is_sorted() && tuning.test[u].is_sorted());
    }
    assert_eq!(tuning.num_items, split.num_items);
}

#[test]
fn synthetic_catalogs_scale_to_a_million_items() {
    let d = synthetic_catalog(20, 1_000_000, 15, 8, 1);
    assert_eq!(d.items.len(), 1_000_000);
    assert_eq!(d.events.len(), 20 * 15);
    assert!(d.events.iter().all(|e| (e.item as usize) < 1_000_000));
}

#[test]
fn a_large_synthetic_catalog_has_a_popular_head_that_users_share() {
    let d = synthetic_catalog(300, 1_000_000, 20, 8, 2);
    let mut per_user: Vec<Vec<u32>> = vec![Vec::new(); 300];
    let mut count = std::collections::HashMap::<u32, usize>::new();
    for e in &d.events {
        per_user[e.user as usize].push(e.item);
        *count.entry(e.item).or_default() += 1;
    }
    for (u, items) in per_user.iter_mut().enumerate() {
        let n = items.len();
        items.sort_unstable();
        items.dedup();
        assert_eq!(items.len(), n, "user {u}: distinct items");
        assert_eq!(n, 20);
    }
    let mut counts: Vec<usize> = count.into_values().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let head: usize = counts.iter().take(1000).sum();
    eprintln!(
        "{} distinct items; the 1,000 most popular hold {head} of {} interactions",
        counts.len(),
        d.events.len()
    );
    // A learnable head: 0.1% of the catalog's items carry most interactions.
    assert!(head * 2 > d.events.len(), "{head} of {}", d.events.len());
}

#[test]
fn interactions_follow_a_saved_catalog_order() {
    let f = file(
        "user_id:token\titem_id:token\trating:float\n\
         u1\tb\t5\nu1\ta\t3\nu2\tz\t4\nu2\tc\t1\nu3\tz\t2\n",
    );
    let data = read_recbole_inter(f.path()).unwrap();
    assert_eq!(data.items, ["b", "a", "z", "c"], "first-seen order");
    let catalog: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();

    let (aligned, unknown, dropped) = data.clone().into_catalog(&catalog);
    assert_eq!(aligned.items, catalog);
    assert_eq!(unknown, ["z"]);
    assert_eq!(dropped, 2, "both interactions with z");
    let named: Vec<(&str, &str, f32)> = aligned
        .events
        .iter()
        .map(|e| {
            (
                aligned.users[e.user as usize].as_str(),
                catalog[e.item as usize].as_str(),
                e.rating,
            )
        })
        .collect();
    assert_eq!(
        named,
        [("u1", "b", 5.0), ("u1", "a", 3.0), ("u2", "c", 1.0)]
    );

    let err = data.aligned_to(&catalog).unwrap_err().to_string();
    assert_eq!(
        err,
        "1 items of the data are not in the model's catalog of 4 (first: \"z\")"
    );
}
