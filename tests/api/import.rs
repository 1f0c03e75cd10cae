use crate::helpers::spawn_app;
use ebill::import::{self, ImportKind};
use std::io::Write;

fn write_file(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
    path
}

const ACCOUNTS: &str = "account_no,holder_name,address,phone,account_type,supply_unit\n\
3100000001,张三,上海市浦东新区1号,13812341234,residential,浦东供电\n\
3100000002,李四,\"上海市徐汇区2号, 5楼\",13987655678,residential,徐汇供电\n\
31000X,王五,静安区,13700001111,residential,静安供电\n\
3100000004,赵六,黄浦区,021-62881234,commercial,黄浦供电\n";

const BILLS: &str = "account_no,period,issue_date,due_date,revision,reading_start,reading_end,multiplier,usage_kwh,tier_lines,tou_lines,other_charges,total_fen,paid_fen\n\
3100000001,2026-10,2026-11-03,2026-11-20,1,4372,4652,1,280,1:230:0.4883:11231;2:50:0.5383:2692,,,13923,0\n\
3100000002,2026-10,2026-11-03,2026-11-20,1,100,200,1,100,,peak:60:0.6170:3702;valley:40:0.3070:1228,,4930,0\n\
3100000001,2026-11,2026-12-03,2026-12-20,1,4652,4752,1,100,1:100:0.4883:4883,,,4884,0\n\
3100000009,2026-10,2026-11-03,2026-11-20,1,1,2,1,1,1:1:0.4883:49,,,49,0\n";

#[tokio::test]
async fn csv_imports_report_rejected_lines_by_number_and_are_idempotent() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let accounts = write_file(dir.path(), "accounts.csv", ACCOUNTS);
    let bills = write_file(dir.path(), "bills.csv", BILLS);
    let now = app.clock_now_ms();

    let mut report = Vec::new();
    let summary =
        import::run(&app.state.db, ImportKind::Accounts, &accounts, || now, false, &mut report).await.unwrap();
    let report = String::from_utf8(report).unwrap();
    assert_eq!((summary.tally.created, summary.tally.rejected), (2, 2));
    assert!(report.contains("line 4: INVALID_ACCOUNT_NO"), "{report}");
    assert!(report.contains("line 5: INVALID_ACCOUNT_TYPE"), "{report}");

    let mut report = Vec::new();
    let summary = import::run(&app.state.db, ImportKind::Bills, &bills, || now, false, &mut report).await.unwrap();
    let report = String::from_utf8(report).unwrap();
    assert_eq!((summary.tally.created, summary.tally.rejected), (2, 2), "{report}");
    assert!(report.contains("line 4: LINES_MISMATCH"), "{report}");
    assert!(report.contains("line 5: UNKNOWN_ACCOUNT"), "{report}");

    let mut report = Vec::new();
    let again = import::run(&app.state.db, ImportKind::Bills, &bills, || now, false, &mut report).await.unwrap();
    assert_eq!((again.tally.created, again.tally.unchanged, again.tally.rejected), (0, 2, 2));
    assert_eq!(app.count("bills").await, 2);
}

#[tokio::test]
async fn a_file_without_the_required_columns_is_refused_before_anything_is_written() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "bad.csv", "account,name\n3100000001,张三\n");
    let mut report = Vec::new();
    let error = import::run(&app.state.db, ImportKind::Accounts, &path, || 0, false, &mut report).await.unwrap_err();
    assert!(error.to_string().contains("account_no"), "{error}");
    assert_eq!(app.count("accounts").await, 0);
}
