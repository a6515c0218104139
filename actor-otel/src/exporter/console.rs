//! The embedded default for people without a collector: each finished trace printed as an
//! indented waterfall with durations and thread names.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::trace::{SpanId, Status, TraceId};
use opentelemetry::Key;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use opentelemetry_semantic_conventions::attribute::THREAD_NAME;

const BAR: usize = 32;

/// A span ready to draw: its data and the thread it ran on.
#[derive(Debug, Clone)]
struct WaterfallSpan {
    /// The span.
    span: SpanData,
    /// The thread it ran on (`thread.name` of the span, else of its resource).
    thread: String,
}

/// Renders the spans of one trace as an indented waterfall.
fn render_trace(spans: &[WaterfallSpan]) -> String {
    let Some(first) = spans.first() else {
        return String::new();
    };
    let trace_id = first.span.span_context.trace_id();
    let start = spans
        .iter()
        .map(|s| s.span.start_time)
        .min()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let end = spans.iter().map(|s| s.span.end_time).max().unwrap_or(start);
    let total = end
        .duration_since(start)
        .unwrap_or_default()
        .max(Duration::from_nanos(1));
    let ids: HashMap<SpanId, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span.span_context.span_id(), i))
        .collect();
    let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        let parent = ids.get(&s.span.parent_span_id).copied().filter(|&p| p != i);
        children.entry(parent).or_default().push(i);
    }
    for list in children.values_mut() {
        list.sort_by_key(|&i| spans[i].span.start_time);
    }
    let mut rows = Vec::new();
    let mut stack: Vec<(usize, usize)> = children
        .get(&None)
        .map(|r| r.iter().rev().map(|&i| (i, 0)).collect())
        .unwrap_or_default();
    while let Some((i, depth)) = stack.pop() {
        rows.push((i, depth));
        if let Some(kids) = children.get(&Some(i)) {
            stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
        }
    }
    let label = |i: usize, depth: usize| format!("{}{}", "  ".repeat(depth), spans[i].span.name);
    let name_width = rows
        .iter()
        .map(|&(i, d)| label(i, d).chars().count())
        .max()
        .unwrap_or(0);
    let thread_width = rows
        .iter()
        .map(|&(i, _)| spans[i].thread.chars().count())
        .max()
        .unwrap_or(0);
    let count = match spans.len() {
        1 => "1 span".to_owned(),
        n => format!("{n} spans"),
    };
    let mut out = format!("trace {trace_id}  {count}  {}\n", millis(total));
    for (i, depth) in rows {
        let s = &spans[i].span;
        let offset = s.start_time.duration_since(start).unwrap_or_default();
        let length = s.end_time.duration_since(s.start_time).unwrap_or_default();
        let from = (offset.as_secs_f64() / total.as_secs_f64() * BAR as f64).floor() as usize;
        let width =
            ((length.as_secs_f64() / total.as_secs_f64() * BAR as f64).round() as usize).max(1);
        let from = from.min(BAR - 1);
        let width = width.min(BAR - from);
        let bar = format!(
            "{}{}{}",
            " ".repeat(from),
            "=".repeat(width),
            " ".repeat(BAR - from - width)
        );
        let error = match &s.status {
            Status::Error { description } => format!("  ERROR {description}"),
            _ => String::new(),
        };
        let line = format!(
            "  {:<name_width$}  [{bar}] {:>10}  {:<thread_width$}{error}",
            label(i, depth),
            millis(length),
            spans[i].thread,
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn millis(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Buffers spans per trace and prints each trace once it is complete: its root has ended and
/// no span joined it for `linger`, or the pipeline shuts down.
pub(crate) struct ConsoleExporter {
    out: Arc<Mutex<dyn Write + Send>>,
    resource_thread: Option<String>,
    linger: Duration,
    pending: Mutex<Pending>,
}

impl std::fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleExporter")
            .field("linger", &self.linger)
            .finish()
    }
}

#[derive(Debug, Default)]
struct Pending {
    traces: HashMap<TraceId, (Vec<WaterfallSpan>, Instant, bool)>,
    order: Vec<TraceId>,
}

impl ConsoleExporter {
    /// Prints to `out`.
    pub(crate) fn to_writer(out: Arc<Mutex<dyn Write + Send>>) -> Self {
        ConsoleExporter {
            out,
            resource_thread: None,
            linger: Duration::from_secs(2),
            pending: Mutex::new(Pending::default()),
        }
    }

    fn print(&self, traces: Vec<Vec<WaterfallSpan>>) {
        if traces.is_empty() {
            return;
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        for trace in traces {
            let _ = writeln!(out, "{}", render_trace(&trace));
        }
        let _ = out.flush();
    }

    /// Traces to print now: complete ones (root ended, quiet for `linger`), ones that never
    /// got a root but have been quiet for a long time, the oldest ones past [`MAX_PENDING`],
    /// or everything (`all`, at shutdown). Memory stays bounded either way.
    fn take_ready(&self, all: bool) -> Vec<Vec<WaterfallSpan>> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let linger = self.linger;
        let overflow = pending.order.len().saturating_sub(MAX_PENDING);
        let ready: std::collections::HashSet<TraceId> = pending
            .order
            .iter()
            .enumerate()
            .filter(|(position, id)| {
                let (_, last, has_root) = &pending.traces[*id];
                let quiet = now.duration_since(*last);
                all || *position < overflow
                    || (*has_root && quiet >= linger)
                    || quiet >= linger * ROOTLESS_LINGER_FACTOR
            })
            .map(|(_, id)| *id)
            .collect();
        if ready.is_empty() {
            return Vec::new();
        }
        let order = std::mem::take(&mut pending.order);
        let (done, waiting): (Vec<TraceId>, Vec<TraceId>) =
            order.into_iter().partition(|id| ready.contains(id));
        pending.order = waiting;
        done.iter()
            .filter_map(|id| pending.traces.remove(id))
            .map(|(spans, _, _)| spans)
            .collect()
    }
}

/// Most traces held back waiting for completion; past it, the oldest are printed as they are.
const MAX_PENDING: usize = 10_000;
/// A trace whose root never arrives is printed after this many `linger`s without new spans.
const ROOTLESS_LINGER_FACTOR: u32 = 15;

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            for span in batch {
                let thread = span
                    .attributes
                    .iter()
                    .find(|kv| kv.key.as_str() == THREAD_NAME)
                    .map(|kv| kv.value.to_string())
                    .or_else(|| self.resource_thread.clone())
                    .unwrap_or_else(|| "?".into());
                let is_root = span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote;
                let id = span.span_context.trace_id();
                if !pending.traces.contains_key(&id) {
                    pending.order.push(id);
                }
                let entry = pending
                    .traces
                    .entry(id)
                    .or_insert_with(|| (Vec::new(), now, false));
                entry.0.push(WaterfallSpan { span, thread });
                entry.1 = now;
                entry.2 |= is_root;
            }
        }
        self.print(self.take_ready(false));
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.print(self.take_ready(true));
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource_thread = resource
            .get(&Key::from_static_str(THREAD_NAME))
            .map(|v| v.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanKind, TraceFlags, TraceState};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    fn span(
        trace: u128,
        id: u64,
        parent: u64,
        name: &'static str,
        start_ms: u64,
        end_ms: u64,
    ) -> SpanData {
        let at = |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(trace),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.into(),
            start_time: at(start_ms),
            end_time: at(end_ms),
            attributes: vec![opentelemetry::KeyValue::new(THREAD_NAME, "main")],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("t").build(),
        }
    }

    #[test]
    fn a_trace_renders_as_an_indented_waterfall() {
        let spans: Vec<WaterfallSpan> = [
            span(7, 2, 1, "child", 100, 300),
            span(7, 1, 0, "root", 0, 400),
            span(7, 3, 2, "grandchild", 150, 250),
        ]
        .into_iter()
        .map(|span| WaterfallSpan {
            span,
            thread: "main".into(),
        })
        .collect();
        let text = render_trace(&spans);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("trace 00000000000000000000000000000007  3 spans  400.000 ms"));
        assert!(lines[1].starts_with("  root "));
        assert!(lines[2].starts_with("    child "));
        assert!(lines[3].starts_with("      grandchild "));
        assert!(lines[1].contains("[================================]"));
        assert!(
            lines[2].contains("[        ================        ]"),
            "{}",
            lines[2]
        );
    }

    #[test]
    fn held_back_traces_stay_bounded() {
        let out: Arc<Mutex<dyn Write + Send>> = Arc::new(Mutex::new(Vec::<u8>::new()));
        let exporter = ConsoleExporter::to_writer(out);
        let batch: Vec<SpanData> = (0..MAX_PENDING as u128 + 50)
            .map(|t| span(t + 1, 1, 9, "rootless", 0, 1))
            .collect();
        futures::executor::block_on(exporter.export(batch)).unwrap();
        let pending = exporter.pending.lock().unwrap();
        assert_eq!(pending.order.len(), MAX_PENDING);
        assert_eq!(pending.traces.len(), MAX_PENDING);
    }
}
