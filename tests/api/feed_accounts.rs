use crate::helpers::{account, spawn_app};
use ebill::db::accounts;
use ebill::domain::account::AccountNo;
use serde_json::{json, Value};

async fn results(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn each_item_gets_its_own_result_and_a_bad_one_spares_its_neighbours() {
    let app = spawn_app().await;
    let mut bad_phone = account("3100000002");
    bad_phone["phone"] = json!("12345");
    let mut wrong_type = account("3100000003");
    wrong_type["holder_name"] = json!(42);
    let items =
        json!({"items": [account("3100000001"), bad_phone, wrong_type, account("31000A"), account("3100000005")]});
    let report = results(app.post_feed("accounts", &items).await).await;
    let outcomes: Vec<&str> =
        report["results"].as_array().unwrap().iter().map(|r| r["result"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["created", "rejected", "rejected", "rejected", "created"]);
    assert_eq!(report["results"][1]["code"], "INVALID_PHONE");
    assert_eq!(report["results"][2]["code"], "INVALID_FIELD");
    assert_eq!(report["results"][3]["code"], "INVALID_ACCOUNT_NO");
    assert_eq!(report["results"][1]["key"], "3100000002");
    assert_eq!(report["summary"], json!({"created": 2, "updated": 0, "unchanged": 0, "rejected": 3}));
    assert_eq!(app.count("accounts").await, 2);
}

#[tokio::test]
async fn resending_a_batch_changes_nothing() {
    let app = spawn_app().await;
    let items = json!({"items": [account("3100000001"), account("3100000002")]});
    results(app.post_feed("accounts", &items).await).await;
    let before = accounts::find(app.state.db.pool(), &AccountNo::parse("3100000001").unwrap()).await.unwrap().unwrap();
    app.clock.advance_ms(1_000);
    let again = results(app.post_feed("accounts", &items).await).await;
    assert_eq!(again["summary"], json!({"created": 0, "updated": 0, "unchanged": 2, "rejected": 0}));
    let after = accounts::find(app.state.db.pool(), &AccountNo::parse("3100000001").unwrap()).await.unwrap().unwrap();
    assert_eq!(before, after, "an unchanged account is not rewritten");
}

#[tokio::test]
async fn a_changed_account_is_updated() {
    let app = spawn_app().await;
    results(app.post_feed("accounts", &json!({"items": [account("3100000001")]})).await).await;
    let mut moved = account("3100000001");
    moved["address"] = json!("上海市黄浦区人民大道200号");
    let report = results(app.post_feed("accounts", &json!({"items": [moved]})).await).await;
    assert_eq!(report["results"][0]["result"], "updated");
    let stored = accounts::find(app.state.db.pool(), &AccountNo::parse("3100000001").unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.account.address, "上海市黄浦区人民大道200号");
}

#[tokio::test]
async fn the_same_account_twice_in_a_batch_keeps_the_last() {
    let app = spawn_app().await;
    let mut second = account("3100000001");
    second["holder_name"] = json!("李四");
    let report = results(app.post_feed("accounts", &json!({"items": [account("3100000001"), second]})).await).await;
    assert_eq!(report["results"][0]["result"], "created");
    assert_eq!(report["results"][1]["result"], "updated");
    let stored = accounts::find(app.state.db.pool(), &AccountNo::parse("3100000001").unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.account.holder_name, "李四");
    assert_eq!(app.count("accounts").await, 1);
}

#[tokio::test]
async fn concurrent_batches_of_the_same_accounts_create_each_once() {
    let app = spawn_app().await;
    let items: Vec<Value> = (1..=9).map(|n| account(&format!("310000000{n}"))).collect();
    let bodies: Vec<Value> = (0..6).map(|n| json!({ "items": items, "sequence": n })).collect();
    let responses = futures_util::future::join_all(bodies.iter().map(|body| app.post_feed("accounts", body))).await;
    let mut created = 0;
    let mut unchanged = 0;
    for response in responses {
        let report = results(response).await;
        created += report["summary"]["created"].as_u64().unwrap();
        unchanged += report["summary"]["unchanged"].as_u64().unwrap();
    }
    assert_eq!((created, unchanged), (9, 45));
    assert_eq!(app.count("accounts").await, 9);
}
