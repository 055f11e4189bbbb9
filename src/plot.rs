//! Line plots rendered to SVG and PNG with a bundled font, so that plotting needs no
//! system font or graphics library.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// Points per series beyond which a series is thinned for drawing; the lines look the
/// same and the files stay small.
const MAX_DRAWN_POINTS: usize = 2_000;

/// Size of the rendered image in pixels.
const SIZE: (u32, u32) = (960, 600);

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeriesStyle {
    /// A solid line.
    Line,
    /// A thick, light line, for the truth under a prediction.
    Wide,
    /// Small dots.
    Points,
}

/// One labelled series of `(x, y)` points.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend label.
    pub label: String,
    /// The points, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// How it is drawn.
    pub style: SeriesStyle,
    /// Its colour as RGB.
    pub color: (u8, u8, u8),
}

/// A plot of series against one x axis, with an optional shaded x interval.
#[derive(Debug, Clone)]
pub struct LinePlot {
    /// The title above the plot.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// A shaded x interval with its legend label, such as the training range.
    pub shaded: Option<(f64, f64, String)>,
    /// Shaded bands between two curves, drawn under the series.
    pub bands: Vec<Band>,
    /// The series, drawn in order.
    pub series: Vec<Series>,
}

/// A shaded region between a lower and an upper curve over the same x values, such as
/// the min–max spread of predictions over seeds.
#[derive(Debug, Clone)]
pub struct Band {
    /// The lower curve, in increasing x.
    pub lower: Vec<(f64, f64)>,
    /// The upper curve, in increasing x.
    pub upper: Vec<(f64, f64)>,
    /// Its colour as RGB, drawn translucent.
    pub color: (u8, u8, u8),
}

/// A plot that could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the plot {title:?}: {reason}")]
pub struct PlotError {
    /// The plot's title.
    pub title: String,
    /// What went wrong.
    pub reason: String,
}

/// Colours of predictions, the truth and the shaded range.
pub const PREDICTION_COLOR: (u8, u8, u8) = (214, 39, 40);
/// The colour of the true function or data.
pub const TRUTH_COLOR: (u8, u8, u8) = (31, 119, 180);
const SHADE_COLOR: RGBColor = RGBColor(255, 200, 80);

impl LinePlot {
    /// Renders the plot as an SVG document.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        register_bundled_font();
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|error| self.error(error))?;
        }
        Ok(text)
    }

    /// Renders the plot as a PNG image.
    pub fn to_png(&self) -> Result<Vec<u8>, PlotError> {
        register_bundled_font();
        let mut pixels = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|error| self.error(error))?;
        }
        self.encode_png(&pixels)
    }

    fn encode_png(&self, pixels: &[u8]) -> Result<Vec<u8>, PlotError> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, SIZE.0, SIZE.1);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|error| self.error(error))?;
        writer
            .write_image_data(pixels)
            .map_err(|error| self.error(error))?;
        writer.finish().map_err(|error| self.error(error))?;
        Ok(bytes)
    }

    fn error(&self, error: impl std::fmt::Display) -> PlotError {
        PlotError {
            title: self.title.clone(),
            reason: error.to_string(),
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        root.fill(&WHITE).map_err(|error| self.error(error))?;
        let (x_range, y_range) = self
            .bounds()
            .ok_or_else(|| self.error("there are no finite points to draw"))?;

        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(x_range.clone(), y_range.clone())
            .map_err(|error| self.error(error))?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 17))
            .light_line_style(RGBColor(246, 246, 246))
            .draw()
            .map_err(|error| self.error(error))?;

        if let Some((lo, hi, label)) = &self.shaded {
            let area = Rectangle::new(
                [(*lo, y_range.start), (*hi, y_range.end)],
                SHADE_COLOR.mix(0.25).filled(),
            );
            chart
                .draw_series([area])
                .map_err(|error| self.error(error))?
                .label(label)
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 20, y + 6)], SHADE_COLOR.mix(0.5).filled())
                });
        }

        for band in &self.bands {
            let (r, g, b) = band.color;
            let mut outline = thin(&band.upper);
            outline.extend(thin(&band.lower).into_iter().rev());
            chart
                .draw_series([Polygon::new(outline, RGBColor(r, g, b).mix(0.2).filled())])
                .map_err(|error| self.error(error))?;
        }
        for series in &self.series {
            self.draw_series(&mut chart, series)?;
        }

        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font(("sans-serif", 16))
            .draw()
            .map_err(|error| self.error(error))
    }

    fn draw_series<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<
            '_,
            DB,
            Cartesian2d<
                plotters::coord::types::RangedCoordf64,
                plotters::coord::types::RangedCoordf64,
            >,
        >,
        series: &Series,
    ) -> Result<(), PlotError> {
        let (r, g, b) = series.color;
        let color = match series.style {
            // A solid light colour: a translucent wide line darkens where its segments overlap.
            SeriesStyle::Wide => RGBColor(lighten(r), lighten(g), lighten(b)),
            _ => RGBColor(r, g, b),
        };
        let points = thin(&series.points);

        let annotation = match series.style {
            SeriesStyle::Line => chart.draw_series(LineSeries::new(points, color.stroke_width(2))),
            SeriesStyle::Wide => chart.draw_series(LineSeries::new(points, color.stroke_width(6))),
            SeriesStyle::Points => chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 2, color.filled())),
            ),
        }
        .map_err(|error| self.error(error))?;

        annotation
            .label(&series.label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3)));
        Ok(())
    }

    /// The x and y ranges that hold every finite point, with a margin.
    fn bounds(&self) -> Option<(std::ops::Range<f64>, std::ops::Range<f64>)> {
        let finite = self
            .series
            .iter()
            .flat_map(|s| &s.points)
            .filter(|(x, y)| x.is_finite() && y.is_finite());
        let (mut x_min, mut x_max, mut y_min, mut y_max) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for &(x, y) in finite {
            x_min = x_min.min(x);
            x_max = x_max.max(x);
            y_min = y_min.min(y);
            y_max = y_max.max(y);
        }
        if x_min > x_max {
            return None;
        }

        let pad = |lo: f64, hi: f64, fraction: f64| {
            let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
            (lo - fraction * span)..(hi + fraction * span)
        };
        Some((pad(x_min, x_max, 0.02), pad(y_min, y_max, 0.08)))
    }
}

/// Mixes a colour channel halfway with white.
fn lighten(channel: u8) -> u8 {
    ((channel as u16 + 255) / 2) as u8
}

/// Keeps at most `MAX_DRAWN_POINTS` evenly strided points, always including the last.
fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut finite = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    if points.len() <= MAX_DRAWN_POINTS {
        return finite.collect();
    }
    let stride = points.len().div_ceil(MAX_DRAWN_POINTS);
    let mut kept: Vec<(f64, f64)> = finite.clone().step_by(stride).collect();
    if let Some(last) = finite.next_back() {
        if kept.last() != Some(&last) {
            kept.push(last);
        }
    }
    kept
}

fn register_bundled_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // DejaVu Sans is a valid TrueType font, so registering it cannot fail.
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_plot() -> LinePlot {
        LinePlot {
            title: "x^2".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            shaded: Some((-1.0, 1.0, "training range".into())),
            bands: Vec::new(),
            series: vec![Series {
                label: "truth".into(),
                points: (0..5000)
                    .map(|i| (i as f64 / 1000.0 - 2.5, (i as f64 / 1000.0 - 2.5).powi(2)))
                    .collect(),
                style: SeriesStyle::Wide,
                color: TRUTH_COLOR,
            }],
        }
    }

    #[test]
    fn png_has_signature() {
        let bytes = sample_plot().to_png().unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn svg_has_labels_and_legend() {
        let text = sample_plot().to_svg().unwrap();
        assert!(text.starts_with("<svg"), "{}", &text[..40]);
        assert!(text.contains("training range"));
        assert!(text.contains("\ntruth\n"));
    }

    #[test]
    fn empty_plot_is_an_error() {
        let mut plot = sample_plot();
        plot.series.clear();
        let error = plot.to_svg().unwrap_err().to_string();
        assert!(error.contains("no finite points"), "{error}");
    }

    #[test]
    fn thinning_keeps_last_point() {
        let points: Vec<(f64, f64)> = (0..10_001).map(|i| (i as f64, 0.0)).collect();
        let kept = thin(&points);
        assert!(kept.len() <= MAX_DRAWN_POINTS + 1);
        assert_eq!(kept.last(), Some(&(10_000.0, 0.0)));
    }
}
