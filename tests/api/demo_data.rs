use crate::helpers::{spawn_app_with, test_settings};
use ebill::Application;

#[tokio::test]
async fn sandbox_seeds_demo_accounts_and_a_year_of_bills_once() {
    let app = spawn_app_with(|s| s.demo.seed = true).await;
    assert_eq!(app.count("accounts").await, 3);
    assert_eq!(app.count("bills").await, 36);

    // A second start on the same database seeds nothing more.
    let mut settings = test_settings(app.data_dir.path()).await;
    settings.database_url = app.state.settings.database_url.clone();
    settings.demo.seed = true;
    let again = Application::build(settings).await.unwrap();
    assert_eq!(ebill::db::bills::count(again.state().db.pool()).await.unwrap(), 36);
}

#[tokio::test]
async fn demo_seeding_can_be_turned_off() {
    let app = spawn_app_with(|s| s.demo.seed = false).await;
    assert_eq!(app.count("accounts").await, 0);
}
