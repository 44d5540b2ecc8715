//! The seed's three figures redrawn with this run's measurements (SVG, log-log axes).

use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;

pub struct Series {
    pub name: String,
    /// (x, seconds); cells that failed are left out.
    pub points: Vec<(f64, f64)>,
}

const COLOURS: [RGBColor; 4] = [RGBColor(0, 114, 178), RGBColor(0, 158, 115), RGBColor(213, 94, 0), RGBColor(120, 120, 120)];

pub fn draw(path: &Path, title: &str, x_label: &str, series: &[Series]) -> Result<()> {
    let all: Vec<(f64, f64)> = series.iter().flat_map(|s| s.points.iter().copied()).filter(|(x, y)| *x > 0.0 && *y > 0.0).collect();
    if all.is_empty() {
        return Ok(());
    }
    let fold = |f: fn(f64, f64) -> f64, init, pick: fn(&(f64, f64)) -> f64| all.iter().map(pick).fold(init, f);
    let (x0, x1) = (fold(f64::min, f64::MAX, |p| p.0) / 1.3, fold(f64::max, 0.0, |p| p.0) * 1.3);
    let (y0, y1) = (fold(f64::min, f64::MAX, |p| p.1) / 2.0, fold(f64::max, 0.0, |p| p.1) * 2.0);
    let root = SVGBackend::new(path, (760, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?;
    chart.configure_mesh().x_desc(x_label).y_desc("seconds (log)").draw()?;
    for (s, colour) in series.iter().zip(COLOURS) {
        let points: Vec<(f64, f64)> = s.points.iter().copied().filter(|(x, y)| *x > 0.0 && *y > 0.0).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label(s.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, colour.filled())))?;
    }
    chart.configure_series_labels().position(SeriesLabelPosition::UpperLeft).border_style(BLACK).background_style(WHITE.mix(0.9)).draw()?;
    root.present()?;
    Ok(())
}
