//! The table `cargo xtask bench` prints: one row per scenario and metric,
//! columns scenario, ours (gotd), git, ratio (ours / git).

use super::{daemon::ConnectionCost, median, Sample};

/// Rows collected over every scenario and repository size.
#[derive(Default)]
pub(super) struct Report {
    rows: Vec<[String; 4]>,
}

type Metric = (&'static str, fn(&Sample) -> f64, fn(f64) -> String);

const METRICS: [Metric; 5] = [
    ("client wall s", |s| s.client_wall, |v| format!("{v:.3}")),
    ("server wall s", |s| s.server_wall, |v| format!("{v:.2}")),
    ("server cpu s", |s| s.server_cpu, |v| format!("{v:.2}")),
    ("wire bytes", |s| s.wire_bytes as f64, |v| format!("{v:.0}")),
    (
        "peak RSS MiB",
        |s| s.peak_rss_kib as f64 / 1024.0,
        |v| format!("{v:.1}"),
    ),
];

fn ratio(ours: f64, git: f64) -> String {
    if git > 0.0 {
        format!("{:.2}", ours / git)
    } else {
        "-".into()
    }
}

impl Report {
    /// Adds the medians of every metric of one scenario; returns the
    /// median client wall times (ours, git).
    pub(super) fn add(&mut self, scenario: &str, ours: &[Sample], git: &[Sample]) -> (f64, f64) {
        let mut client = (0.0, 0.0);
        for (i, (name, get, fmt)) in METRICS.iter().enumerate() {
            let o = median(ours.iter().map(get).collect());
            let g = median(git.iter().map(get).collect());
            if i == 0 {
                client = (o, g);
            }
            self.rows
                .push([format!("{scenario}: {name}"), fmt(o), fmt(g), ratio(o, g)]);
        }
        client
    }

    /// Adds the per-connection times of the daemon path against git.
    pub(super) fn add_connection(&mut self, scenario: &str, c: &ConnectionCost) {
        let ms = |v: f64| format!("{:.2}", v * 1e3);
        self.rows.push([
            format!("{scenario}: ms/connection, median of {}", c.connections),
            ms(c.ours_median),
            ms(c.git_median),
            ratio(c.ours_median, c.git_median),
        ]);
        self.rows.push([
            format!("{scenario}: ms/connection, median, git over the fake ssh"),
            ms(c.ours_median),
            ms(c.ssh_git_median),
            ratio(c.ours_median, c.ssh_git_median),
        ]);
        self.rows.push([
            format!("{scenario}: ms/connection, mean"),
            ms(c.ours_mean),
            ms(c.git_mean),
            ratio(c.ours_mean, c.git_mean),
        ]);
        let (before, after) = c.parent_rss_kib;
        self.rows.push([
            format!("{scenario}: gotd parent RSS KiB after all (git column: after warm-up)"),
            after.to_string(),
            before.to_string(),
            ratio(after as f64, before as f64),
        ]);
    }

    /// The table as text, columns aligned.
    pub(super) fn render(&self) -> String {
        let header = [
            "scenario".to_string(),
            "ours".into(),
            "git".into(),
            "ratio".into(),
        ];
        let width = self
            .rows
            .iter()
            .chain(std::iter::once(&header))
            .map(|r| r[0].len())
            .max()
            .unwrap_or(8);
        let mut out = String::new();
        for r in std::iter::once(&header).chain(&self.rows) {
            out.push_str(&format!(
                "{:<width$} {:>12} {:>12} {:>7}\n",
                r[0], r[1], r[2], r[3]
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(client_wall: f64, wire_bytes: u64) -> Sample {
        Sample {
            client_wall,
            wire_bytes,
            ..Sample::default()
        }
    }

    #[test]
    fn rows_carry_medians_and_ratios() {
        let mut r = Report::default();
        let ours = [sample(1.0, 100), sample(3.0, 100), sample(2.0, 100)];
        let git = [sample(1.0, 50), sample(1.0, 50), sample(1.0, 50)];
        assert_eq!(r.add("clone", &ours, &git), (2.0, 1.0));
        let text = r.render();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("scenario"), "{text}");
        let wall: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(wall[wall.len() - 3..], ["2.000", "1.000", "2.00"], "{text}");
        let bytes: Vec<&str> = lines[4].split_whitespace().collect();
        assert_eq!(bytes[bytes.len() - 3..], ["100", "50", "2.00"], "{text}");
        // A zero git figure has no ratio.
        assert!(lines[5].trim_end().ends_with('-'), "{text}");
    }
}
