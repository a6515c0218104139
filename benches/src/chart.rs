//! The chart of a `bench-table` run: ns per message for every set-up of every workload, one
//! panel of horizontal bars per workload, written as SVG from the run's own medians. Raw
//! baselines are grey, this framework blue, the peers orange, so the gap to raw and to the
//! peers is seen at a glance.

use std::fmt::Write as _;

/// One bar: a set-up and its ns per message.
#[derive(Debug, Clone)]
pub struct Bar {
    /// The set-up's name (as in the tables).
    pub name: String,
    /// Nanoseconds per message (wall clock).
    pub ns: f64,
}

/// One panel: a workload and its bars, in table order.
#[derive(Debug, Clone)]
pub struct Panel {
    /// The workload's title (`tell_throughput` ...).
    pub title: String,
    /// Its set-ups.
    pub bars: Vec<Bar>,
}

const WIDTH: f64 = 900.0;
const LABEL_WIDTH: f64 = 330.0;
const BAR_HEIGHT: f64 = 18.0;
const BAR_GAP: f64 = 6.0;
const PANEL_GAP: f64 = 34.0;
const VALUE_ROOM: f64 = 90.0;

/// Which family a set-up belongs to, by its name.
fn colour(name: &str) -> &'static str {
    if name.starts_with("raw") {
        "#8c8c8c"
    } else if name.starts_with("actor-core") {
        "#2f6fb3"
    } else {
        "#e07b24"
    }
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The SVG document for `panels`, titled `title` (a subtitle line says how it was made).
pub fn svg(title: &str, subtitle: &str, panels: &[Panel]) -> String {
    let bars: usize = panels.iter().map(|p| p.bars.len()).sum();
    let height = 70.0
        + panels.len() as f64 * (PANEL_GAP + 10.0)
        + bars as f64 * (BAR_HEIGHT + BAR_GAP)
        + 20.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="10" y="24" font-size="16" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let _ = writeln!(
        out,
        r##"<text x="10" y="42" fill="#555">{}</text>"##,
        escape(subtitle)
    );
    let mut y = 70.0;
    for panel in panels {
        let max = panel.bars.iter().map(|b| b.ns).fold(0.0_f64, f64::max);
        let scale = if max > 0.0 {
            (WIDTH - LABEL_WIDTH - VALUE_ROOM) / max
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            r#"<text x="10" y="{y}" font-weight="bold">{} (ns per message, shorter is faster)</text>"#,
            escape(&panel.title)
        );
        y += 10.0;
        for bar in &panel.bars {
            let w = (bar.ns * scale).max(1.0);
            let text_y = y + BAR_HEIGHT * 0.75;
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{text_y}" text-anchor="end">{}</text>"#,
                LABEL_WIDTH - 8.0,
                escape(&bar.name)
            );
            let _ = writeln!(
                out,
                r#"<rect x="{LABEL_WIDTH}" y="{y}" width="{w:.1}" height="{BAR_HEIGHT}" fill="{}"/>"#,
                colour(&bar.name)
            );
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{text_y}">{:.0}</text>"#,
                LABEL_WIDTH + w + 6.0,
                bar.ns
            );
            y += BAR_HEIGHT + BAR_GAP;
        }
        y += PANEL_GAP;
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_up_gets_a_bar_in_its_family_colour_scaled_to_its_panel() {
        let panels = vec![
            Panel {
                title: "tell".into(),
                bars: vec![
                    Bar {
                        name: "raw channel".into(),
                        ns: 100.0,
                    },
                    Bar {
                        name: "actor-core".into(),
                        ns: 50.0,
                    },
                    Bar {
                        name: "kameo <64>".into(),
                        ns: 200.0,
                    },
                ],
            },
            Panel {
                title: "ask".into(),
                bars: vec![Bar {
                    name: "actor-core".into(),
                    ns: 700.0,
                }],
            },
        ];
        let svg = svg("bench-table", "2 vCPU", &panels);
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
        for name in [
            "raw channel",
            "actor-core",
            "kameo &lt;64&gt;",
            "tell (",
            "ask (",
        ] {
            assert!(svg.contains(name), "{name} missing");
        }
        assert_eq!(svg.matches("<rect x=").count(), 4, "one bar per set-up");
        // The longest bar of a panel spans the plot width; the others in proportion.
        let full = WIDTH - LABEL_WIDTH - VALUE_ROOM;
        assert!(svg.contains(&format!(
            r##"width="{full:.1}" height="{BAR_HEIGHT}" fill="#e07b24""##
        )));
        assert!(svg.contains(&format!(
            r##"width="{:.1}" height="{BAR_HEIGHT}" fill="#2f6fb3""##,
            full / 4.0
        )));
        assert!(svg.contains(&format!(
            r##"width="{:.1}" height="{BAR_HEIGHT}" fill="#8c8c8c""##,
            full / 2.0
        )));
        well_formed(&svg);
    }

    #[test]
    fn an_empty_panel_and_markup_in_names_still_make_a_well_formed_document() {
        let panels = vec![
            Panel {
                title: "a & b".into(),
                bars: vec![],
            },
            Panel {
                title: "zeros".into(),
                bars: vec![Bar {
                    name: "raw <unbounded> & \"quoted\"".into(),
                    ns: 0.0,
                }],
            },
        ];
        let svg = svg("t", "s", &panels);
        assert!(svg.contains("a &amp; b ("));
        assert!(svg.contains("raw &lt;unbounded&gt; &amp;"));
        well_formed(&svg);
    }

    /// Checks that `doc` is XML-ish well formed: every tag closes in order, attribute
    /// values are quoted, and text holds no bare `<` or `&` outside entities.
    fn well_formed(doc: &str) {
        let mut open: Vec<&str> = Vec::new();
        let mut rest = doc;
        while let Some(start) = rest.find('<') {
            check_text(&rest[..start]);
            let end = rest[start..].find('>').expect("a tag closes") + start;
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "nested '<' in tag {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(name.trim()), "closing {name} out of order");
            } else {
                let self_closing = tag.ends_with('/');
                let body = tag.trim_end_matches('/');
                let name = body.split_whitespace().next().expect("a tag has a name");
                assert!(
                    body.matches('"').count().is_multiple_of(2),
                    "unbalanced quotes in {tag}"
                );
                if !self_closing {
                    open.push(name);
                }
            }
            rest = &rest[end + 1..];
        }
        check_text(rest);
        assert!(open.is_empty(), "unclosed elements: {open:?}");
    }

    fn check_text(text: &str) {
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "bare '&' in {text}"
            );
        }
    }
}
