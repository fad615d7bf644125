use crate::relevance::rank_order;

/// |top-k(student) ∩ top-k(teacher)| / k'.
pub fn overlap_at(student: &[f32], teacher: &[f32], k: usize) -> Option<f64> {
    if student.is_empty() {
        return None;
    }
    let kk = k.min(student.len());
    let mut in_teacher = vec![false; student.len()];
    for &i in rank_order(teacher).iter().take(kk) {
        in_teacher[i] = true;
    }
    let hits = rank_order(student)
        .iter()
        .take(kk)
        .filter(|&&i| in_teacher[i])
        .count();
    Some(hits as f64 / kk as f64)
}

/// Kendall's τ (τ-a) between student and teacher scores over the teacher's top-k items;
/// `None` when fewer than two items are compared.
pub fn kendall_tau_at(student: &[f32], teacher: &[f32], k: usize) -> Option<f64> {
    let top: Vec<usize> = rank_order(teacher).into_iter().take(k).collect();
    let m = top.len();
    if m < 2 {
        return None;
    }
    let mut score = 0i64;
    for a in 0..m {
        for b in a + 1..m {
            let (i, j) = (top[a], top[b]);
            let dt = teacher[i] - teacher[j];
            let ds = student[i] - student[j];
            score += ((dt * ds).signum() as i64) * ((dt != 0.0 && ds != 0.0) as i64);
        }
    }
    Some(score as f64 / (m * (m - 1) / 2) as f64)
}
