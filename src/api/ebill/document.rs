//! The e-bill page: one bill, server-rendered, readable on a phone and printable on A4. It shows the account's
//! number and masked holder, the bill's dates, readings, lines, charges, the late fee to date, the amount due now
//! and the usage chart — and nothing else of the account.

use super::chart::usage_svg;
use crate::api::mp::bill_views::BillDetailView;
use crate::api::mp::bills::UsageHistory;
use crate::domain::money::Fen;
use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn yuan(fen: i64) -> String {
    format!("¥{}", Fen::new(fen).to_yuan_string())
}

fn status_label(status: &str) -> &'static str {
    match status {
        "paid" => "已缴清",
        "partially_paid" => "部分缴费",
        "overdue" => "已逾期",
        _ => "待缴费",
    }
}

fn band_label(band: &str) -> &'static str {
    match band {
        "sharp" => "尖峰",
        "peak" => "峰",
        "flat" => "平",
        "valley" => "谷",
        _ => "—",
    }
}

/// What the page shows besides the bill itself.
pub struct PageContext<'a> {
    pub holder_name_masked: &'a str,
    pub address_masked: &'a str,
    pub supply_unit: &'a str,
    pub usage: &'a UsageHistory,
    /// When the page was produced, shown as "as of" for the late fee.
    pub today: &'a str,
}

pub fn render(bill: &BillDetailView, context: &PageContext<'_>) -> String {
    let s = &bill.summary;
    let mut lines = String::new();
    for line in &bill.tier_lines {
        let _ = write!(
            lines,
            "<tr><td>第{}档</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            line.tier.unwrap_or_default(),
            line.kwh,
            escape(&line.unit_price),
            yuan(line.amount_fen)
        );
    }
    for line in &bill.tou_lines {
        let _ = write!(
            lines,
            "<tr><td>{}时段</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            band_label(line.band.as_deref().unwrap_or("")),
            line.kwh,
            escape(&line.unit_price),
            yuan(line.amount_fen)
        );
    }
    for charge in &bill.other_charges {
        let _ = write!(
            lines,
            "<tr><td>{}</td><td></td><td></td><td>{}</td></tr>",
            escape(&charge.name),
            yuan(charge.amount_fen)
        );
    }
    format!(
        r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>电费账单 {period} · {account}</title>
<link rel="stylesheet" href="/static/ebill-page.css">
</head>
<body>
<main class="ebill">
<header>
  <h1>电费账单</h1>
  <p class="supply">{supply}</p>
  <p class="status status-{status}">{status_label}</p>
</header>
<section class="facts">
  <dl>
    <dt>户号</dt><dd id="account-no">{account}</dd>
    <dt>户名</dt><dd>{holder}</dd>
    <dt>地址</dt><dd>{address}</dd>
    <dt>账期</dt><dd id="period">{period}</dd>
    <dt>出账日期</dt><dd>{issue}</dd>
    <dt>缴费截止</dt><dd id="due-date">{due}</dd>
  </dl>
</section>
<section class="due">
  <p>应缴金额（截至 {today}）</p>
  <p class="amount{amount_class}" id="amount-due">{amount_due}</p>
  <p class="breakdown">电费 {total} · 已缴 {paid} · 违约金 {late_fee}{overdue_days}</p>
</section>
<section>
  <h2>抄表信息</h2>
  <table class="readings">
    <tr><th>上期示数</th><th>本期示数</th><th>倍率</th><th>用电量 (kWh)</th></tr>
    <tr><td>{start}</td><td>{end}</td><td>{multiplier}</td><td id="usage-kwh">{usage}</td></tr>
  </table>
</section>
<section>
  <h2>电费明细</h2>
  <table class="lines">
    <tr><th>项目</th><th>电量 (kWh)</th><th>单价 (元/kWh)</th><th>金额</th></tr>
    {lines}
    <tr class="total"><td>合计</td><td>{usage}</td><td></td><td id="total">{total}</td></tr>
  </table>
</section>
<section class="chart">
  <h2>近{months}个月用电量</h2>
  {chart}
  <p class="legend"><span class="swatch current"></span>本年 <span class="swatch previous"></span>上年同月</p>
</section>
<footer>账单修订号 {revision} · 本页面由 ebill 生成，链接有效期内可查看此账单</footer>
</main>
</body>
</html>
"#,
        period = escape(&s.period),
        account = escape(&bill.account_no),
        supply = escape(context.supply_unit),
        status = escape(&s.status),
        status_label = status_label(&s.status),
        holder = escape(context.holder_name_masked),
        address = escape(context.address_masked),
        issue = escape(&s.issue_date),
        due = escape(&s.due_date),
        today = escape(context.today),
        amount_due = yuan(s.amount_due_fen),
        amount_class = if s.status == "overdue" { " overdue" } else { "" },
        total = yuan(s.total_fen),
        paid = yuan(s.paid_fen),
        late_fee = yuan(s.late_fee_fen),
        overdue_days = if s.days_overdue > 0 { format!("（逾期 {} 天）", s.days_overdue) } else { String::new() },
        start = bill.meter.start,
        end = bill.meter.end,
        multiplier = bill.meter.multiplier,
        usage = s.usage_kwh,
        lines = lines,
        months = context.usage.months.len(),
        chart = usage_svg(context.usage),
        revision = bill.revision,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape(r#"<b>"x" & 'y'</b>"#), "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;");
    }
}
