//! A self-contained SVG chart: one panel per signal over time, with the phases shaded.

use std::fmt::Write as _;

/// One line of a panel: `(seconds, value)` points.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Its verdict failed: drawn thick and marked in the legend.
    pub failed: bool,
    /// Drawn dashed (a fitted line, not measurements).
    pub dashed: bool,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            failed: false,
            dashed: false,
        }
    }
}

/// One panel (a y-axis of its own).
#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub series: Vec<Series>,
    /// The y-axis spans the data only (not from zero), so small changes of a large level show.
    pub zoom: bool,
}

const WIDTH: f64 = 900.0;
const PANEL_H: f64 = 140.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const GAP: f64 = 30.0;
const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// Renders the panels over `[0, total]` seconds; `phases` are `(name, start, end)`.
pub fn render(title: &str, panels: &[Panel], phases: &[(String, f64, f64)], total: f64) -> String {
    let total = if total > 0.0 { total } else { 1.0 };
    let height = TOP + panels.len() as f64 * (PANEL_H + GAP) + 20.0;
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |t: f64| LEFT + (t / total).clamp(0.0, 1.0) * plot_w;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="18" font-size="14" font-weight="bold">{}</text>"#,
        esc(title)
    );
    for (pi, panel) in panels.iter().enumerate() {
        let top = TOP + pi as f64 * (PANEL_H + GAP) + 14.0;
        let bottom = top + PANEL_H - 14.0;
        // Phases, shaded alternately and labelled in the first panel.
        for (i, (name, a, b)) in phases.iter().enumerate() {
            let fill = if i % 2 == 0 { "#f3f3f3" } else { "#e6eef7" };
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{fill}"/>"#,
                x(*a),
                (x(*b) - x(*a)).max(0.0),
                bottom - top
            );
            if pi == 0 {
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{:.1}" fill="#555">{}</text>"##,
                    x(*a) + 2.0,
                    top + 11.0,
                    esc(name)
                );
            }
        }
        let values: Vec<f64> = panel
            .series
            .iter()
            .flat_map(|se| se.points.iter().map(|p| p.1))
            .filter(|v| v.is_finite())
            .collect();
        let mut lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        if !panel.zoom || !lo.is_finite() {
            lo = lo.min(0.0);
        }
        let mut hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if panel.zoom && hi.is_finite() && hi > lo {
            let pad = (hi - lo) * 0.05;
            lo -= pad;
            hi += pad;
        }
        if !hi.is_finite() || hi <= lo {
            hi = lo + 1.0;
        }
        let y = |v: f64| bottom - (v - lo) / (hi - lo) * (bottom - top - 14.0);
        let failed = panel.series.iter().any(|se| se.failed);
        let _ = writeln!(
            s,
            r##"<text x="{LEFT}" y="{:.1}" font-weight="bold" fill="{}">{}{}</text>"##,
            top - 3.0,
            if failed { "#c00000" } else { "#000" },
            esc(&panel.title),
            if failed { " — FAIL" } else { "" }
        );
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 4.0,
            y(hi) + 4.0,
            fmt_num(hi)
        );
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 4.0,
            bottom,
            fmt_num(lo)
        );
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{top:.1}" width="{plot_w}" height="{:.1}" fill="none" stroke="#999"/>"##,
            bottom - top
        );
        let mut legend_x = LEFT + 160.0;
        for (si, se) in panel.series.iter().enumerate() {
            let colour = COLOURS[si % COLOURS.len()];
            let pts: Vec<String> = se
                .points
                .iter()
                .filter(|p| p.1.is_finite())
                .map(|&(t, v)| format!("{:.1},{:.1}", x(t), y(v)))
                .collect();
            if !pts.is_empty() {
                let width = if se.failed { 3.0 } else { 1.5 };
                let dash = if se.dashed {
                    r#" stroke-dasharray="6 3""#
                } else {
                    ""
                };
                let _ = writeln!(
                    s,
                    r#"<polyline fill="none" stroke="{colour}" stroke-width="{width}"{dash} points="{}"/>"#,
                    pts.join(" ")
                );
            }
            let label = if se.failed {
                format!("{} ✗", se.name)
            } else {
                se.name.clone()
            };
            let _ = writeln!(
                s,
                r#"<text x="{legend_x:.1}" y="{:.1}" fill="{colour}">{}</text>"#,
                top - 3.0,
                esc(&label)
            );
            legend_x += 6.5 * label.chars().count() as f64 + 16.0;
        }
        if pi + 1 == panels.len() {
            for k in 0..=5 {
                let t = total * k as f64 / 5.0;
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{:.0}s</text>"#,
                    x(t),
                    bottom + 14.0,
                    t
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_panels_phases_and_escapes() {
        let mut rss = Series::new("rss", vec![(0.0, 100.0), (5.0, 101.0), (6.0, f64::NAN)]);
        rss.failed = true;
        let panels = vec![Panel {
            title: "RSS <MiB>".into(),
            series: vec![rss],
            zoom: true,
        }];
        let svg = render(
            "soak & co",
            &panels,
            &[("baseline".into(), 0.0, 2.0), ("steady".into(), 2.0, 10.0)],
            10.0,
        );
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("soak &amp; co") && svg.contains("RSS &lt;MiB&gt;"));
        assert!(svg.contains(">baseline<") && svg.contains("<polyline"));
        assert!(!svg.contains("NaN"));
        // A failing series is marked; a zoomed axis starts near the data, not at zero.
        assert!(svg.contains("— FAIL") && svg.contains("rss ✗"));
        assert!(svg.contains(">99.95<") && !svg.contains(">0.00<"), "{svg}");
    }
}
