//! PNG charts with plotters' bitmap backend. Text is drawn with a font
//! embedded in the binary (a DejaVu Sans subset, `assets/`) through
//! plotters' `ab_glyph` feature, so charts render the same headless, with
//! no system fonts or fontconfig.

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;

use crate::error::SimulationError;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");
const WIDTH: u32 = 900;
const HEIGHT: u32 = 540;
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(90, 90, 90),
];

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Line,
    Points,
    /// A dashed reference line.
    Reference,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub mark: Mark,
}

impl Series {
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            points,
            mark: Mark::Line,
        }
    }

    pub fn points(label: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            points,
            mark: Mark::Points,
        }
    }

    pub fn reference(label: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            points,
            mark: Mark::Reference,
        }
    }
}

/// A 2-D chart of series on linear or logarithmic axes.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub x_log: bool,
    pub y_log: bool,
    /// Fixed y range; otherwise from the data.
    pub y_range: Option<(f64, f64)>,
}

fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the embedded font does not load".to_owned())
    }
}

/// The range of `values` with a margin; on a log axis only positive values
/// count.
fn range(values: impl Iterator<Item = f64>, log: bool) -> Range<f64> {
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for value in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        low = low.min(value);
        high = high.max(value);
    }
    if !low.is_finite() {
        return if log { 0.1..1.0 } else { 0.0..1.0 };
    }
    if log {
        return (low / 1.5)..(high * 1.5);
    }
    if high <= low {
        return (low - 1.0)..(high + 1.0);
    }
    let margin = (high - low) * 0.05;
    (low - margin)..(high + margin)
}

/// Draws `chart` into a PNG at `path`.
pub fn draw(path: &Path, chart: &Chart) -> Result<(), SimulationError> {
    let error = |problem: String| SimulationError::Chart {
        path: path.display().to_string(),
        problem,
    };
    register_font().map_err(error)?;
    let x = range(
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0)),
        chart.x_log,
    );
    let y = match chart.y_range {
        Some((low, high)) => low..high,
        None => range(
            chart
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1)),
            chart.y_log,
        ),
    };
    let result = match (chart.x_log, chart.y_log) {
        (false, false) => plot(path, chart, x, y),
        (true, false) => plot(path, chart, x.log_scale(), y),
        (false, true) => plot(path, chart, x, y.log_scale()),
        (true, true) => plot(path, chart, x.log_scale(), y.log_scale()),
    };
    result.map_err(error)
}

fn plot<X, Y>(path: &Path, chart: &Chart, x: X, y: Y) -> Result<(), String>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let text = |error: &dyn std::fmt::Display| error.to_string();
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| text(&e))?;
    let mut context = ChartBuilder::on(&root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)
        .map_err(|e| text(&e))?;
    context
        .configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(|e| text(&e))?;
    for (index, series) in chart.series.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        let points = series
            .points
            .iter()
            .copied()
            .filter(|(px, py)| px.is_finite() && py.is_finite())
            .filter(|(px, py)| (!chart.x_log || *px > 0.0) && (!chart.y_log || *py > 0.0));
        let drawn = match series.mark {
            Mark::Line => context
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| text(&e))?,
            Mark::Reference => context
                .draw_series(DashedLineSeries::new(points, 6, 4, BLACK.stroke_width(1)))
                .map_err(|e| text(&e))?,
            Mark::Points => context
                .draw_series(points.map(|p| Circle::new(p, 3, color.filled())))
                .map_err(|e| text(&e))?,
        };
        let legend_color = if series.mark == Mark::Reference {
            BLACK
        } else {
            color
        };
        drawn.label(series.label.as_str()).legend(move |(lx, ly)| {
            PathElement::new(vec![(lx, ly), (lx + 18, ly)], legend_color.stroke_width(2))
        });
    }
    context
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| text(&e))?;
    root.present().map_err(|e| text(&e))?;
    Ok(())
}
