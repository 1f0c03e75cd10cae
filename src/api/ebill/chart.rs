//! The usage chart of the e-bill page: an inline SVG bar chart of monthly kWh, each month beside the same month a
//! year earlier. Drawn on the server so the page needs no script.

use crate::api::mp::bills::UsageHistory;
use std::fmt::Write;

const WIDTH: i64 = 640;
const HEIGHT: i64 = 220;
const PLOT_TOP: i64 = 16;
const PLOT_BOTTOM: i64 = 180;

/// The SVG markup; months without figures leave gaps.
pub fn usage_svg(history: &UsageHistory) -> String {
    let max = history.months.iter().flat_map(|m| [m.kwh, m.previous_year_kwh]).flatten().max().unwrap_or(0).max(1);
    let count = history.months.len().max(1) as i64;
    let slot = WIDTH / count;
    let bar = (slot / 3).max(2);
    // i128: a meter with a large multiplier can read billions of kWh.
    let height = |kwh: i64| ((kwh as i128 * (PLOT_BOTTOM - PLOT_TOP) as i128) / max as i128) as i64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="usage-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="月用电量，与上年同月对比">"#
    );
    let _ = write!(svg, r#"<line x1="0" y1="{PLOT_BOTTOM}" x2="{WIDTH}" y2="{PLOT_BOTTOM}" class="axis"/>"#);
    for (index, month) in history.months.iter().enumerate() {
        let x = index as i64 * slot + slot / 2;
        if let Some(kwh) = month.previous_year_kwh {
            let h = height(kwh);
            let _ = write!(
                svg,
                r#"<rect class="previous" x="{}" y="{}" width="{bar}" height="{h}"><title>{} 上年同月 {kwh} kWh</title></rect>"#,
                x - bar,
                PLOT_BOTTOM - h,
                month.period
            );
        }
        if let Some(kwh) = month.kwh {
            let h = height(kwh);
            let _ = write!(
                svg,
                r#"<rect class="current" x="{x}" y="{}" width="{bar}" height="{h}"><title>{} {kwh} kWh</title></rect>"#,
                PLOT_BOTTOM - h,
                month.period
            );
        }
        let label = month.period.get(5..).unwrap_or(&month.period);
        let _ = write!(svg, r#"<text x="{x}" y="{}" text-anchor="middle">{label}月</text>"#, PLOT_BOTTOM + 18);
    }
    svg.push_str("</svg>");
    svg
}
