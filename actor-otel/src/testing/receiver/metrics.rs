//! Received metrics ([`ReceivedMetric`]) and their data points read for assertions
//! ([`MetricPoint`]), with the latest point of each series for cumulative exports
//! ([`latest`]).

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point;
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, Metric, NumberDataPoint};

use super::store::attributes;

/// One metric as received over the wire (one export of it), with its resource and scope.
#[derive(Debug, Clone)]
pub struct ReceivedMetric {
    /// The metric, as decoded.
    pub metric: Metric,
    /// The resource attributes of its batch, as text.
    pub resource: HashMap<String, String>,
    /// The instrumentation scope name.
    pub scope: String,
}

impl ReceivedMetric {
    /// The metric's name.
    pub fn name(&self) -> &str {
        &self.metric.name
    }

    /// Its data points, read ([`MetricPoint`]), in the order they came.
    pub fn points(&self) -> Vec<MetricPoint> {
        let point = |attrs: &[KeyValue], start, time, temporality, value| MetricPoint {
            name: self.metric.name.clone(),
            attributes: attributes(attrs),
            resource: self.resource.clone(),
            scope: self.scope.clone(),
            start_time_unix_nano: start,
            time_unix_nano: time,
            temporality,
            value,
        };
        let numbers = |points: &[NumberDataPoint], temporality| -> Vec<MetricPoint> {
            points
                .iter()
                .map(|p| {
                    let value = match p.value {
                        Some(number_data_point::Value::AsInt(i)) => PointValue::Int(i),
                        Some(number_data_point::Value::AsDouble(d)) => PointValue::Double(d),
                        None => PointValue::Other,
                    };
                    point(
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        temporality,
                        value,
                    )
                })
                .collect()
        };
        let temporality = |t: i32| {
            AggregationTemporality::try_from(t).unwrap_or(AggregationTemporality::Unspecified)
        };
        match &self.metric.data {
            None => Vec::new(),
            Some(Data::Gauge(g)) => numbers(&g.data_points, AggregationTemporality::Unspecified),
            Some(Data::Sum(s)) => numbers(&s.data_points, temporality(s.aggregation_temporality)),
            Some(Data::Histogram(h)) => h
                .data_points
                .iter()
                .map(|p| {
                    let value = PointValue::Histogram(HistogramPoint {
                        count: p.count,
                        sum: p.sum,
                        bucket_counts: p.bucket_counts.clone(),
                        explicit_bounds: p.explicit_bounds.clone(),
                        min: p.min,
                        max: p.max,
                    });
                    let t = temporality(h.aggregation_temporality);
                    point(
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        t,
                        value,
                    )
                })
                .collect(),
            Some(Data::ExponentialHistogram(h)) => h
                .data_points
                .iter()
                .map(|p| {
                    let t = temporality(h.aggregation_temporality);
                    let (start, time) = (p.start_time_unix_nano, p.time_unix_nano);
                    point(&p.attributes, start, time, t, PointValue::Other)
                })
                .collect(),
            Some(Data::Summary(s)) => s
                .data_points
                .iter()
                .map(|p| {
                    let t = AggregationTemporality::Unspecified;
                    let (start, time) = (p.start_time_unix_nano, p.time_unix_nano);
                    point(&p.attributes, start, time, t, PointValue::Other)
                })
                .collect(),
        }
    }
}

/// One data point of a received metric, read for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// The metric's name.
    pub name: String,
    /// The point's attributes, as text.
    pub attributes: HashMap<String, String>,
    /// The resource attributes of its batch, as text.
    pub resource: HashMap<String, String>,
    /// The instrumentation scope name.
    pub scope: String,
    /// Start of the point's interval (cumulative: the series' start).
    pub start_time_unix_nano: u64,
    /// When the point was collected.
    pub time_unix_nano: u64,
    /// Cumulative or delta; `Unspecified` for gauges and summaries.
    pub temporality: AggregationTemporality,
    /// The point's value.
    pub value: PointValue,
}

impl MetricPoint {
    /// A Sum or Gauge value as `f64` (integers converted); `None` for histograms.
    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            PointValue::Int(i) => Some(i as f64),
            PointValue::Double(d) => Some(d),
            _ => None,
        }
    }

    /// An integer Sum or Gauge value; `None` for doubles and histograms.
    pub fn as_i64(&self) -> Option<i64> {
        match self.value {
            PointValue::Int(i) => Some(i),
            _ => None,
        }
    }

    /// A non-negative integer Sum or Gauge value (OTLP carries `u64` counters as `i64`).
    pub fn as_u64(&self) -> Option<u64> {
        self.as_i64().and_then(|i| u64::try_from(i).ok())
    }

    /// A histogram point's value; `None` for the other kinds.
    pub fn histogram(&self) -> Option<&HistogramPoint> {
        match &self.value {
            PointValue::Histogram(h) => Some(h),
            _ => None,
        }
    }

    /// A point attribute as text.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// Whether every `(key, value)` of `filter` is a point attribute or, failing that, a
    /// resource attribute (per-actor pipelines put the actor in the resource).
    pub fn matches(&self, filter: &[(&str, &str)]) -> bool {
        filter.iter().all(|(key, value)| {
            self.attributes
                .get(*key)
                .or_else(|| self.resource.get(*key))
                .is_some_and(|v| v == value)
        })
    }

    /// What tells its series apart: name, scope, point and resource attributes.
    fn series(&self) -> Series {
        let sorted = |map: &HashMap<String, String>| {
            let mut kvs: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            kvs.sort();
            kvs
        };
        (
            self.name.clone(),
            self.scope.clone(),
            sorted(&self.attributes),
            sorted(&self.resource),
        )
    }
}

/// A series' identity: metric name, scope, sorted point attributes, sorted resource.
type Series = (String, String, Vec<(String, String)>, Vec<(String, String)>);

/// The value of a [`MetricPoint`].
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    /// An integer Sum or Gauge value.
    Int(i64),
    /// A floating-point Sum or Gauge value.
    Double(f64),
    /// A histogram's value.
    Histogram(HistogramPoint),
    /// An exponential histogram, a summary or a point without value: read
    /// [`ReceivedMetric::metric`] for those.
    Other,
}

/// A histogram data point's value.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    /// How many measurements.
    pub count: u64,
    /// Their sum, when recorded.
    pub sum: Option<f64>,
    /// Measurements per bucket (one more than `explicit_bounds`).
    pub bucket_counts: Vec<u64>,
    /// The buckets' upper bounds.
    pub explicit_bounds: Vec<f64>,
    /// The smallest measurement, when recorded.
    pub min: Option<f64>,
    /// The largest measurement, when recorded.
    pub max: Option<f64>,
}

/// The latest point (by `time_unix_nano`, then arrival) of each series among `points`.
/// Series come in the order they first appear.
pub(super) fn latest(points: impl IntoIterator<Item = MetricPoint>) -> Vec<MetricPoint> {
    let mut order = Vec::new();
    let mut latest: HashMap<_, MetricPoint> = HashMap::new();
    for point in points {
        let series = point.series();
        match latest.get_mut(&series) {
            Some(kept) if kept.time_unix_nano > point.time_unix_nano => {}
            Some(kept) => *kept = point,
            None => {
                order.push(series.clone());
                latest.insert(series, point);
            }
        }
    }
    order
        .into_iter()
        .filter_map(|series| latest.remove(&series))
        .collect()
}
