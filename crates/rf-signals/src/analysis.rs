//! The Matrix guild's reading of a series: a forecast with its prediction
//! interval, the days the series changed level, and the days that fell
//! outside what the model expected. The statistics are augurs' (MSTL, AutoETS,
//! BOCPD), not ours; this module only prepares the series and words the
//! results.

use augurs::{
    changepoint::{Detector, NormalGammaDetector},
    ets::AutoETS,
    mstl::MSTLModel,
    prelude::*,
};
use serde::Serialize;

use crate::{Point, SignalError, format_day};

/// Weekly seasonality for daily series.
pub const WEEK: usize = 7;

/// The fewest points a forecast is made from.
pub const MIN_POINTS: usize = 10;

/// What is expected over the next days, and how sure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    /// The probability the interval is meant to cover (0.8 is 80 %).
    pub level: f64,
    pub days: Vec<String>,
    pub point: Vec<f64>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    /// `MSTL(7) + AutoETS` or `AutoETS`.
    pub model: String,
}

/// A day from which the series ran at another level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangePoint {
    pub day: String,
    pub mean_before: f64,
    pub mean_after: f64,
}

/// A day outside the model's 99 % in-sample interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    pub day: String,
    pub value: f64,
    pub expected: f64,
    pub lower: f64,
    pub upper: f64,
}

/// A series read: forecast, change points, anomalies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub series: String,
    pub points: usize,
    /// Days without a value, filled by interpolation for the models.
    pub filled_days: usize,
    pub forecast: Option<Forecast>,
    pub change_points: Vec<ChangePoint>,
    pub anomalies: Vec<Anomaly>,
    /// Why there is no forecast, if there is none.
    pub note: Option<String>,
}

/// The values of consecutive days from the first point to the last, gaps
/// filled by straight lines; and how many days were filled.
pub fn regularise(points: &[Point]) -> (Vec<f64>, usize) {
    let mut values = Vec::new();
    let mut filled = 0;
    for pair in points.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        values.push(a.value);
        let gap = b.day - a.day;
        for step in 1..gap {
            filled += 1;
            values.push(a.value + (b.value - a.value) * step as f64 / gap as f64);
        }
    }
    if let Some(last) = points.last() {
        values.push(last.value);
    }
    (values, filled)
}

/// Forecasts `horizon` steps with an interval of `level`: MSTL with a
/// weekly season and an AutoETS trend when there are three weeks or more,
/// AutoETS alone otherwise.
pub fn forecast_values(values: &[f64], horizon: usize, level: f64) -> Result<(augurs::Forecast, &'static str), String> {
    if values.len() >= 3 * WEEK {
        let model = MSTLModel::new(vec![WEEK], AutoETS::non_seasonal().into_trend_model());
        let fitted = model.fit(values).map_err(|err| err.to_string())?;
        Ok((fitted.predict(horizon, level).map_err(|err| err.to_string())?, "MSTL(7) + AutoETS"))
    } else {
        let fitted = AutoETS::non_seasonal().fit(values).map_err(|err| err.to_string())?;
        Ok((fitted.predict(horizon, level).map_err(|err| err.to_string())?, "AutoETS"))
    }
}

/// In-sample predictions with an interval of `level`.
fn in_sample(values: &[f64], level: f64) -> Result<augurs::Forecast, String> {
    if values.len() >= 3 * WEEK {
        let model = MSTLModel::new(vec![WEEK], AutoETS::non_seasonal().into_trend_model());
        model.fit(values).map_err(|err| err.to_string())?.predict_in_sample(level).map_err(|err| err.to_string())
    } else {
        AutoETS::non_seasonal().fit(values).map_err(|err| err.to_string())?.predict_in_sample(level).map_err(|err| err.to_string())
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// The indexes where a new level starts: Bayesian online change-point
/// detection on the standardised series. A change is kept when both sides
/// have at least three points and their means differ by more than the
/// series' standard deviation.
pub fn change_points(values: &[f64]) -> Vec<usize> {
    if values.len() < 6 {
        return Vec::new();
    }
    let m = mean(values);
    let sd = (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
    if sd == 0.0 || !sd.is_finite() {
        return Vec::new();
    }
    let standardised: Vec<f64> = values.iter().map(|v| (v - m) / sd).collect();
    let mut detector = NormalGammaDetector::default();
    let mut starts: Vec<usize> = detector.detect_changepoints(&standardised).into_iter().filter(|&i| i > 0).map(|i| i + 1).collect();
    starts.dedup();
    let mut kept = Vec::new();
    let mut segment_start = 0;
    for (n, &start) in starts.iter().enumerate() {
        let next = starts.get(n + 1).copied().unwrap_or(values.len());
        if start < segment_start + 3 || next < start + 3 || start >= values.len() {
            continue;
        }
        let before = mean(&values[segment_start..start]);
        let after = mean(&values[start..next]);
        if (after - before).abs() > sd {
            kept.push(start);
            segment_start = start;
        }
    }
    kept
}

/// Reads a series: forecast over `horizon` days at `level`, change points,
/// anomalies.
pub fn analyse(series: &str, points: &[Point], horizon: usize, level: f64) -> Result<Analysis, SignalError> {
    let (values, filled_days) = regularise(points);
    let first_day = points.first().map_or(0, |p| p.day);
    let day_of = |index: usize| format_day(first_day + i64::try_from(index).unwrap_or(0));
    let segments = change_points(&values);
    let mut change_points = Vec::new();
    let mut previous = 0;
    for (n, &start) in segments.iter().enumerate() {
        let next = segments.get(n + 1).copied().unwrap_or(values.len());
        change_points.push(ChangePoint { day: day_of(start), mean_before: mean(&values[previous..start]), mean_after: mean(&values[start..next]) });
        previous = start;
    }
    if values.len() < MIN_POINTS {
        let note = Some(format!("{} days of data; forecasts start at {MIN_POINTS}", values.len()));
        return Ok(Analysis { series: series.to_owned(), points: points.len(), filled_days, forecast: None, change_points, anomalies: Vec::new(), note });
    }
    let model_error = |detail: String| SignalError::Model { series: series.to_owned(), detail };
    let (predicted, model) = forecast_values(&values, horizon, level).map_err(model_error)?;
    let intervals = predicted.intervals.ok_or_else(|| model_error("the model gave no interval".into()))?;
    let last_day = first_day + i64::try_from(values.len()).unwrap_or(0);
    let forecast = Forecast {
        level,
        days: (0..horizon).map(|h| format_day(last_day + i64::try_from(h).unwrap_or(0))).collect(),
        point: predicted.point,
        lower: intervals.lower,
        upper: intervals.upper,
        model: model.to_owned(),
    };
    let fitted = in_sample(&values, 0.99).map_err(model_error)?;
    let mut anomalies = Vec::new();
    if let Some(bounds) = fitted.intervals {
        // Only days that were measured, not filled in.
        let measured: std::collections::BTreeSet<i64> = points.iter().map(|p| p.day - first_day).collect();
        for (index, value) in values.iter().enumerate() {
            let (lower, upper) = (bounds.lower[index], bounds.upper[index]);
            if measured.contains(&i64::try_from(index).unwrap_or(-1)) && lower.is_finite() && upper.is_finite() && (*value < lower || *value > upper) {
                anomalies.push(Anomaly { day: day_of(index), value: *value, expected: fitted.point[index], lower, upper });
            }
        }
    }
    Ok(Analysis { series: series.to_owned(), points: points.len(), filled_days, forecast: Some(forecast), change_points, anomalies, note: None })
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::*;

    /// A daily series: level, trend, weekly season, Gaussian noise.
    fn synthetic(rng: &mut StdRng, days: usize, noise: f64) -> Vec<f64> {
        let season = [0.0, 4.0, 6.0, 5.0, 3.0, -8.0, -10.0];
        (0..days)
            .map(|t| {
                // Box-Muller.
                let (u1, u2): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random_range(0.0..1.0));
                let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                50.0 + 0.2 * t as f64 + season[t % 7] + noise * normal
            })
            .collect()
    }

    /// 80 % intervals cover about 80 % of held-out points: 30 series of 120
    /// days with a known trend and weekly season, the last 14 of each held
    /// out.
    #[test]
    fn forecast_intervals_cover_held_out_points_at_their_level() {
        let mut rng = StdRng::seed_from_u64(26);
        let (mut inside, mut total) = (0, 0);
        let mut abs_error = 0.0;
        for _ in 0..30 {
            let series = synthetic(&mut rng, 120, 3.0);
            let (train, test) = series.split_at(106);
            let (forecast, model) = forecast_values(train, test.len(), 0.8).unwrap();
            assert_eq!(model, "MSTL(7) + AutoETS");
            let intervals = forecast.intervals.unwrap();
            for (h, actual) in test.iter().enumerate() {
                total += 1;
                inside += usize::from(intervals.lower[h] <= *actual && *actual <= intervals.upper[h]);
                abs_error += (forecast.point[h] - actual).abs();
            }
        }
        let coverage = inside as f64 / total as f64;
        assert!((0.7..=0.9).contains(&coverage), "coverage {coverage:.3}");
        // The trend and season are learnt: errors are about the noise's size
        // (sd 3), not the season's (±10) or a year's trend.
        assert!(abs_error / (total as f64) < 4.5, "mean absolute error {}", abs_error / total as f64);
    }

    #[test]
    fn an_injected_level_shift_is_found_where_it_was_put() {
        let mut rng = StdRng::seed_from_u64(7);
        for shift_at in [40, 75, 130] {
            let mut series = synthetic(&mut rng, 160, 2.0);
            for value in &mut series[shift_at..] {
                *value += 30.0;
            }
            let found = change_points(&series);
            assert!(found.iter().any(|&i| i.abs_diff(shift_at) <= 3), "shift at {shift_at}, found {found:?}");
            assert!(found.len() <= 3, "few false alarms: {found:?}");
        }
        let mut flat = StdRng::seed_from_u64(8);
        let calm: Vec<f64> = (0..120).map(|_| 20.0 + flat.random_range(-1.0..1.0)).collect();
        assert_eq!(change_points(&calm), Vec::<usize>::new(), "noise alone is no change");
    }

    #[test]
    fn analysis_dates_its_findings_fills_gaps_and_flags_a_spike() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut values = synthetic(&mut rng, 60, 1.0);
        values[50] += 40.0;
        let first = crate::parse_day("2026-10-01").unwrap();
        let points: Vec<Point> = values
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 20)
            .map(|(i, v)| Point { day: first + i as i64, value: *v, evidence: serde_json::Value::Null })
            .collect();
        let analysis = analyse("mentions/newsapi/Acme", &points, 14, 0.8).unwrap();
        assert_eq!((analysis.points, analysis.filled_days), (59, 1));
        let forecast = analysis.forecast.unwrap();
        assert_eq!(forecast.days.first().map(String::as_str), Some("2026-11-30"));
        assert_eq!(forecast.point.len(), 14);
        assert!(forecast.lower.iter().zip(&forecast.point).zip(&forecast.upper).all(|((l, p), u)| l <= p && p <= u));
        assert!(analysis.anomalies.iter().any(|a| a.day == "2026-11-20" && a.value > a.upper), "{:?}", analysis.anomalies);

        let short = analyse("s", &points[..5], 7, 0.8).unwrap();
        assert!(short.forecast.is_none() && short.note.unwrap().contains("forecasts start at 10"));
    }
}
