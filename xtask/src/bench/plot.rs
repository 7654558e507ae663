//! `target/bench/bench.svg`: median client time of clone, fetch and push
//! against repository size (commits), ours solid, git dashed. Plain SVG
//! written by hand, readable in any browser.

use std::fmt::Write as _;

/// Median client wall times (ours, git) of one repository size.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Times {
    pub clone: (f64, f64),
    pub fetch: (f64, f64),
    pub push: (f64, f64),
}

const W: f64 = 640.0;
const H: f64 = 400.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 50.0;

/// The plot of `points` (commits, times), sorted by size.
pub(super) fn svg(points: &[(usize, Times)]) -> String {
    let mut pts = points.to_vec();
    pts.sort_by_key(|p| p.0);
    type Pick = fn(&Times) -> (f64, f64);
    let series: [(&str, &str, Pick); 3] = [
        ("clone", "#1f77b4", |t| t.clone),
        ("fetch", "#2ca02c", |t| t.fetch),
        ("push", "#d62728", |t| t.push),
    ];
    let x_max = pts.last().map_or(1, |p| p.0).max(1) as f64;
    let y_max = pts
        .iter()
        .flat_map(|(_, t)| series.iter().map(move |s| (s.2)(t)))
        .flat_map(|(o, g)| [o, g])
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.1;
    let x = |c: f64| LEFT + c / x_max * (W - LEFT - RIGHT);
    let y = |s: f64| H - BOTTOM - s / y_max * (H - TOP - BOTTOM);

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="18" font-size="14">client time vs repository size (gotd solid, git dashed)</text>"#
    );
    // Axes.
    let (x0, y0, x1, y1) = (LEFT, H - BOTTOM, W - RIGHT, TOP);
    let _ = writeln!(
        out,
        r#"<path d="M{x0},{y1} L{x0},{y0} L{x1},{y0}" stroke="black" fill="none"/>"#
    );
    for i in 0..=4 {
        let v = y_max * f64::from(i) / 4.0;
        let yy = y(v);
        let _ = writeln!(
            out,
            r##"<line x1="{x0}" y1="{yy:.1}" x2="{x1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{v:.2}</text>"##,
            x0 - 4.0,
            yy + 4.0
        );
    }
    for (c, _) in &pts {
        let xx = x(*c as f64);
        let _ = writeln!(
            out,
            r#"<text x="{xx:.1}" y="{}" text-anchor="middle">{c}</text>"#,
            y0 + 16.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">commits</text><text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">seconds</text>"#,
        (x0 + x1) / 2.0,
        H - 12.0,
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0
    );
    // Series and legend.
    for (k, (name, colour, pick)) in series.iter().enumerate() {
        for (who, dash, get) in [
            ("gotd", "", (|p: (f64, f64)| p.0) as fn((f64, f64)) -> f64),
            ("git", r#" stroke-dasharray="6 4""#, |p: (f64, f64)| p.1),
        ] {
            let path: Vec<String> = pts
                .iter()
                .map(|(c, t)| format!("{:.1},{:.1}", x(*c as f64), y(get(pick(t)))))
                .collect();
            let _ = writeln!(
                out,
                r#"<polyline points="{}" stroke="{colour}" stroke-width="2" fill="none"{dash}/>"#,
                path.join(" ")
            );
            for (c, t) in &pts {
                let _ = writeln!(
                    out,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#,
                    x(*c as f64),
                    y(get(pick(t)))
                );
            }
            let ly = TOP + 20.0 * (2 * k + usize::from(who == "git")) as f64;
            let lx = W - RIGHT + 15.0;
            let _ = writeln!(
                out,
                r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"{dash}/><text x="{}" y="{}">{name}, {who}</text>"#,
                lx + 30.0,
                lx + 36.0,
                ly + 4.0
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plot_has_a_line_per_series_and_a_label_per_size() {
        let t = |s: f64| Times {
            clone: (s, s * 0.9),
            fetch: (s / 10.0, s / 12.0),
            push: (s * 2.0, s * 1.5),
        };
        let text = svg(&[(1500, t(0.5)), (500, t(0.2)), (3000, t(1.0))]);
        assert!(text.starts_with("<svg") && text.ends_with("</svg>\n"));
        assert_eq!(text.matches("<polyline").count(), 6);
        assert_eq!(text.matches("<circle").count(), 18);
        for label in [">500<", ">1500<", ">3000<", "push, git", "clone, gotd"] {
            assert!(text.contains(label), "{label} missing");
        }
        // Sorted by size: the first clone polyline goes left to right.
        let line = text.lines().find(|l| l.starts_with("<polyline")).unwrap();
        let xs: Vec<f64> = line
            .split('"')
            .nth(1)
            .unwrap()
            .split(' ')
            .map(|p| p.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "{line}");
    }
}
