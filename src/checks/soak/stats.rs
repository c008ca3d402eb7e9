//! Robust statistics for short, noisy runs: median/MAD, Mann–Kendall trend test, Theil–Sen
//! slope with Sen's confidence interval, Mann–Whitney U.

/// The median (`None` for no values). NaNs must be filtered out by the caller.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Median absolute deviation from the median (unscaled).
pub fn mad(values: &[f64]) -> Option<f64> {
    let m = median(values)?;
    let dev: Vec<f64> = values.iter().map(|x| (x - m).abs()).collect();
    median(&dev)
}

/// The MAD scaled to estimate a normal standard deviation.
pub fn robust_sigma(values: &[f64]) -> Option<f64> {
    mad(values).map(|m| 1.4826 * m)
}

/// Standard normal cumulative distribution.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' `erfcc`, relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Result of a Mann–Kendall trend test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    pub s: i64,
    pub var_s: f64,
    pub z: f64,
    /// One-sided p-value for an *increasing* trend.
    pub p_increasing: f64,
}

/// Sizes of groups of equal values (ties), for variance corrections.
fn tie_groups(values: &[f64]) -> Vec<usize> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mut groups = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i + 1;
        while j < v.len() && v[j] == v[i] {
            j += 1;
        }
        if j - i > 1 {
            groups.push(j - i);
        }
        i = j;
    }
    groups
}

/// Mann–Kendall test on a series in time order (needs at least 3 values).
pub fn mann_kendall(y: &[f64]) -> Option<MannKendall> {
    if y.len() < 3 {
        return None;
    }
    mann_kendall_blocked(&[y])
}

/// S and Var(S) of one block.
fn kendall_s(y: &[f64]) -> (i64, f64) {
    let n = y.len();
    let mut s: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            s += match y[j].partial_cmp(&y[i]) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    let nf = n as f64;
    let ties: f64 = tie_groups(y)
        .iter()
        .map(|&t| (t * (t - 1) * (2 * t + 5)) as f64)
        .sum();
    (s, (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0)
}

/// The blocked (seasonal) Mann–Kendall test (Hirsch, Slack & Smith 1982): S and its variance
/// summed over blocks, so a step *between* blocks is not a trend. Needs 3 values in all.
pub fn mann_kendall_blocked(blocks: &[&[f64]]) -> Option<MannKendall> {
    let usable: Vec<&&[f64]> = blocks.iter().filter(|b| b.len() >= 2).collect();
    if usable.iter().map(|b| b.len()).sum::<usize>() < 3 {
        return None;
    }
    let (mut s, mut var_s) = (0i64, 0.0);
    for b in usable {
        let (bs, bv) = kendall_s(b);
        s += bs;
        var_s += bv;
    }
    let z = if var_s <= 0.0 {
        0.0
    } else if s > 0 {
        (s as f64 - 1.0) / var_s.sqrt()
    } else if s < 0 {
        (s as f64 + 1.0) / var_s.sqrt()
    } else {
        0.0
    };
    let n: usize = blocks.iter().map(|b| b.len()).sum();
    let untied = blocks.iter().all(|b| tie_groups(b).is_empty());
    let p_increasing = if untied && n <= EXACT_MAX_N {
        exact_p_at_least(blocks, s)
    } else {
        1.0 - normal_cdf(z)
    };
    Some(MannKendall {
        s,
        var_s,
        z,
        p_increasing,
    })
}

/// Up to this many values without ties, Mann–Kendall's p is exact (the normal approximation
/// is conservative for few values: 5 values in order give p = 1/120 exactly, 0.014 by it).
const EXACT_MAX_N: usize = 12;

/// P(S ≥ s) when every order within each block is equally likely (no trend): the distribution
/// of S of one block of n is that of n(n-1)/2 - 2 × the inversions of a random permutation
/// (Mahonian numbers), and blocks add up.
fn exact_p_at_least(blocks: &[&[f64]], s: i64) -> f64 {
    // P(S = key) of the blocks so far; a few dozen keys for n ≤ 12.
    let mut dist: std::collections::BTreeMap<i64, f64> = [(0, 1.0)].into();
    for b in blocks.iter().filter(|b| b.len() >= 2) {
        let n = b.len();
        let pairs = (n * (n - 1) / 2) as i64;
        // Mahonian numbers: permutations of n with k inversions.
        let mut m = vec![1.0f64];
        for size in 2..=n {
            let mut next = vec![0.0; m.len() + size - 1];
            for (k, &c) in m.iter().enumerate() {
                for j in 0..size {
                    next[k + j] += c;
                }
            }
            m = next;
        }
        let total: f64 = m.iter().sum();
        let mut out = std::collections::BTreeMap::new();
        for (&acc, &p) in &dist {
            for (inv, &c) in m.iter().enumerate() {
                *out.entry(acc + pairs - 2 * inv as i64).or_insert(0.0) += p * c / total;
            }
        }
        dist = out;
    }
    dist.range(s..).map(|(_, p)| p).sum::<f64>().min(1.0)
}

/// A Theil–Sen slope with Sen's (1968) confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TheilSen {
    pub slope: f64,
    pub intercept: f64,
    pub lower: f64,
    pub upper: f64,
}

/// Theil–Sen slope of `y` over `x` with a two-sided interval at confidence `z` (1.96 = 95%).
pub fn theil_sen(x: &[f64], y: &[f64], z: f64) -> Option<TheilSen> {
    theil_sen_blocked(&[(x, y)], z)
}

/// Theil–Sen over pairs *within* each block (Sen 1968's blocked estimator), with Sen's
/// interval from the blocked Mann–Kendall variance.
pub fn theil_sen_blocked(blocks: &[(&[f64], &[f64])], z: f64) -> Option<TheilSen> {
    let mut slopes = Vec::new();
    for (x, y) in blocks {
        let n = x.len().min(y.len());
        for i in 0..n {
            for j in i + 1..n {
                let dx = x[j] - x[i];
                if dx != 0.0 {
                    slopes.push((y[j] - y[i]) / dx);
                }
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_by(f64::total_cmp);
    let slope = median(&slopes)?;
    let intercepts: Vec<f64> = blocks
        .iter()
        .flat_map(|(x, y)| x.iter().zip(y.iter()).map(|(x, y)| y - slope * x))
        .collect();
    let intercept = median(&intercepts)?;
    let ys: Vec<&[f64]> = blocks.iter().map(|(_, y)| *y).collect();
    let (lower, upper) = match mann_kendall_blocked(&ys) {
        Some(mk) => {
            // Gilbert (1987): ranks M1 = (N - C)/2 and M2 = (N + C)/2 + 1 of the ordered slopes.
            let big_n = slopes.len() as f64;
            let c = z * mk.var_s.sqrt();
            let m1 = ((big_n - c) / 2.0).floor();
            let m2 = ((big_n + c) / 2.0).ceil();
            let at = |rank: f64| slopes[(rank.max(1.0) as usize - 1).min(slopes.len() - 1)];
            (at(m1), at(m2 + 1.0))
        }
        None => (slopes[0], slopes[slopes.len() - 1]),
    };
    Some(TheilSen {
        slope,
        intercept,
        lower,
        upper,
    })
}

/// Result of a Mann–Whitney U test of "b tends to be larger than a".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    pub u_b: f64,
    pub z: f64,
    /// One-sided p-value for "b is stochastically larger than a".
    pub p_b_greater: f64,
}

/// Mann–Whitney U with average ranks for ties and the normal approximation.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    let (na, nb) = (a.len(), b.len());
    if na == 0 || nb == 0 {
        return None;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, false))
        .chain(b.iter().map(|&v| (v, true)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let mut rank_sum_b = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && all[j].0 == all[i].0 {
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0;
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        rank_sum_b += avg_rank * all[i..j].iter().filter(|e| e.1).count() as f64;
        i = j;
    }
    let (naf, nbf, nf) = (na as f64, nb as f64, n as f64);
    let u_b = rank_sum_b - nbf * (nbf + 1.0) / 2.0;
    let mean = naf * nbf / 2.0;
    let var = naf * nbf / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)).max(1.0));
    let z = if var > 0.0 {
        (u_b - mean - 0.5) / var.sqrt()
    } else {
        0.0
    };
    Some(MannWhitney {
        u_b,
        z,
        p_b_greater: 1.0 - normal_cdf(z),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn median_and_mad() {
        let v = [1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0];
        assert_eq!(median(&v), Some(2.0));
        assert_eq!(mad(&v), Some(1.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert!(close(robust_sigma(&v).unwrap(), 1.4826, 1e-9));
    }

    #[test]
    fn normal_cdf_known_values() {
        assert!(close(normal_cdf(0.0), 0.5, 1e-7));
        assert!(close(normal_cdf(1.959964), 0.975, 1e-6));
        assert!(close(normal_cdf(-1.644854), 0.05, 1e-6));
    }

    #[test]
    fn mann_kendall_is_exact_for_few_values() {
        let up = [1.0, 2.0, 3.0, 4.0, 5.0];
        let p = mann_kendall(&up).unwrap().p_increasing;
        assert!((p - 1.0 / 120.0).abs() < 1e-12, "{p}");
        // One swap: S = 8; P(S >= 8) = (1 + 4) / 120.
        let p = mann_kendall(&[1.0, 3.0, 2.0, 4.0, 5.0])
            .unwrap()
            .p_increasing;
        assert!((p - 5.0 / 120.0).abs() < 1e-12, "{p}");
        // Two blocks of 3 in order: (1/6)².
        let p = mann_kendall_blocked(&[&[1.0, 2.0, 3.0], &[0.0, 5.0, 9.0]])
            .unwrap()
            .p_increasing;
        assert!((p - 1.0 / 36.0).abs() < 1e-12, "{p}");
        // Ties: the normal approximation.
        let p = mann_kendall(&[1.0, 1.0, 2.0, 3.0, 4.0])
            .unwrap()
            .p_increasing;
        assert!(p > 0.0 && (p - 1.0 / 120.0).abs() > 1e-6, "{p}");
    }

    #[test]
    fn mann_kendall_known_series() {
        // Strictly increasing 1..=10: S = n(n-1)/2 = 45, Var = 10*9*25/18 = 125.
        let up: Vec<f64> = (1..=10).map(f64::from).collect();
        let mk = mann_kendall(&up).unwrap();
        assert_eq!(mk.s, 45);
        assert!(close(mk.var_s, 125.0, 1e-9));
        assert!(close(mk.z, 44.0 / 125f64.sqrt(), 1e-9));
        assert!(mk.p_increasing < 0.001);
        // Hand-counted: pairs of [1,3,2,4] give + + + - + + -> S = 4.
        assert_eq!(mann_kendall(&[1.0, 3.0, 2.0, 4.0]).unwrap().s, 4);
        // Ties: [1,1,2] -> S = 2; Var = (3*2*11 - 2*1*9)/18 = 48/18.
        let t = mann_kendall(&[1.0, 1.0, 2.0]).unwrap();
        assert_eq!(t.s, 2);
        assert!(close(t.var_s, 48.0 / 18.0, 1e-9));
        // A flat series has no trend; a decreasing one is not "increasing".
        assert!(mann_kendall(&[5.0; 8]).unwrap().p_increasing > 0.49);
        let down: Vec<f64> = up.iter().rev().copied().collect();
        assert!(mann_kendall(&down).unwrap().p_increasing > 0.99);
        assert!(mann_kendall(&[1.0, 2.0]).is_none());
    }

    #[test]
    fn theil_sen_on_a_line_and_with_outliers() {
        let x: Vec<f64> = (0..20).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|x| 2.0 * x + 1.0).collect();
        let ts = theil_sen(&x, &y, 1.96).unwrap();
        assert_eq!(
            (ts.slope, ts.intercept, ts.lower, ts.upper),
            (2.0, 1.0, 2.0, 2.0)
        );
        // Two wild outliers barely move the slope (least squares would).
        let mut y2 = y.clone();
        y2[3] = 500.0;
        y2[15] = -400.0;
        let ts2 = theil_sen(&x, &y2, 1.96).unwrap();
        assert!(close(ts2.slope, 2.0, 0.01), "{ts2:?}");
        assert!(ts2.lower <= 2.0 && ts2.upper >= 2.0);
    }

    #[test]
    fn sen_interval_covers_zero_for_noise() {
        // A deterministic zig-zag with no trend.
        let x: Vec<f64> = (0..12).map(f64::from).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|i| if (*i as i64) % 2 == 0 { 10.0 } else { 12.0 })
            .collect();
        let ts = theil_sen(&x, &y, 1.96).unwrap();
        assert!(ts.lower <= 0.0 && ts.upper >= 0.0, "{ts:?}");
    }

    #[test]
    fn blocked_tests_ignore_a_step_between_blocks() {
        // Flat at 10 then flat at 50: one series sees a trend, the blocked test does not.
        let a = [10.0, 10.0, 10.0, 10.0, 10.0];
        let b = [50.0, 50.0, 50.0, 50.0, 50.0];
        let joined: Vec<f64> = a.iter().chain(b.iter()).copied().collect();
        assert!(mann_kendall(&joined).unwrap().p_increasing < 0.01);
        let blocked = mann_kendall_blocked(&[&a, &b]).unwrap();
        assert_eq!(blocked.s, 0);
        let xa = [0.0, 1.0, 2.0, 3.0, 4.0];
        let xb = [8.0, 9.0, 10.0, 11.0, 12.0];
        assert_eq!(
            theil_sen_blocked(&[(&xa, &a), (&xb, &b)], 1.96)
                .unwrap()
                .slope,
            0.0
        );
        // A slope present in both blocks is found, step or not.
        let ya: Vec<f64> = xa.iter().map(|x| 3.0 * x).collect();
        let yb: Vec<f64> = xb.iter().map(|x| 3.0 * x + 100.0).collect();
        let ts = theil_sen_blocked(&[(&xa, &ya), (&xb, &yb)], 1.96).unwrap();
        assert_eq!(ts.slope, 3.0);
        let mk = mann_kendall_blocked(&[&ya, &yb]).unwrap();
        assert_eq!(mk.s, 20);
        assert!(mk.p_increasing < 0.01);
    }

    #[test]
    fn mann_whitney_known_samples() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        let mw = mann_whitney(&a, &b).unwrap();
        assert_eq!(mw.u_b, 25.0);
        // mean 12.5, var 25*11/12 -> z = (25 - 12.5 - 0.5)/sqrt(22.9167) = 2.5067
        assert!(close(mw.z, 12.0 / (25.0f64 * 11.0 / 12.0).sqrt(), 1e-9));
        assert!(mw.p_b_greater < 0.01);
        assert!(mann_whitney(&b, &a).unwrap().p_b_greater > 0.99);
        // Identical samples: no evidence either way.
        let same = mann_whitney(&a, &a).unwrap();
        assert_eq!(same.u_b, 12.5);
        assert!(same.p_b_greater > 0.5);
        assert!(mann_whitney(&[], &a).is_none());
    }
}
