//! What a simulated platform knows of its users' message subscriptions, as `wx.requestSubscribeMessage` and
//! `my.requestSubscribeMessage` would have told it: one-time acceptances (each allows exactly one message), standing
//! permissions (a long-term template the user accepted) and templates declared long-term for every user. The
//! platforms' routes (`wechat::message`, `alipay::message`) turn
//! their own user names into recipients and use these.

use super::platforms::{lock, SandboxFull};
use crate::error::ApiError;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// (recipient, template) pairs holding credits or a standing permission, at most.
pub const MAX_SUBSCRIPTIONS: usize = 200_000;
/// Aliases (another id of the same user, e.g. an Alipay open_id for its user_id), at most.
pub const MAX_ALIASES: usize = 200_000;
/// Templates declared long-term for everyone, at most.
pub const MAX_LONG_TERM_TEMPLATES: usize = 1_000;
/// One-time credits one user holds for one template, at most (acceptances beyond are not counted).
pub const MAX_CREDITS: u32 = 1_000;
/// Template ids one grant may name.
pub const MAX_TEMPLATES_PER_GRANT: usize = 20;
const MAX_TEMPLATE_ID_LEN: usize = 128;

/// Why a send may go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// The template is long-term for every user.
    LongTermTemplate,
    /// The user accepted this long-term template.
    Standing,
    /// One of the user's one-time acceptances was used; `left` remain.
    OneTime { left: u32 },
}

#[derive(Debug, Default, Clone, Copy)]
struct Grant {
    one_time: u32,
    standing: bool,
}

#[derive(Default)]
struct Book {
    /// Recipient → template → what the recipient holds for it.
    grants: HashMap<String, HashMap<String, Grant>>,
    /// (recipient, template) pairs in `grants`.
    pairs: usize,
    aliases: HashMap<String, String>,
    long_term: HashSet<String>,
}

impl Book {
    fn resolve(&self, id: &str) -> String {
        self.aliases.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }
}

/// One more acceptance of the same template by the same user.
fn merge(into: &mut Grant, from: Grant) {
    into.one_time = into.one_time.saturating_add(from.one_time).min(MAX_CREDITS);
    into.standing |= from.standing;
}

/// One platform's subscriptions.
#[derive(Default)]
pub struct Subscriptions {
    book: Mutex<Book>,
}

impl Subscriptions {
    /// Records that `recipient` accepted `template_ids`: one more one-time credit each, or a standing permission.
    pub fn grant(&self, recipient: &str, template_ids: &[String], long_term: bool) -> Result<(), SandboxFull> {
        let mut guard = lock(&self.book);
        let book = &mut *guard;
        let recipient = book.resolve(recipient);
        let held = book.grants.get(&recipient);
        let new_pairs = template_ids.iter().filter(|template| !held.is_some_and(|h| h.contains_key(*template))).count();
        if book.pairs + new_pairs > MAX_SUBSCRIPTIONS {
            return Err(SandboxFull);
        }
        let templates = book.grants.entry(recipient).or_default();
        for template in template_ids {
            let grant = templates.entry(template.clone()).or_insert_with(|| {
                book.pairs += 1;
                Grant::default()
            });
            merge(grant, Grant { one_time: u32::from(!long_term), standing: long_term });
        }
        Ok(())
    }

    /// Declares `template_ids` long-term for every user.
    pub fn declare_long_term(&self, template_ids: &[String]) -> Result<(), SandboxFull> {
        let mut book = lock(&self.book);
        let new = template_ids.iter().filter(|template| !book.long_term.contains(*template)).count();
        if book.long_term.len() + new > MAX_LONG_TERM_TEMPLATES {
            return Err(SandboxFull);
        }
        book.long_term.extend(template_ids.iter().cloned());
        Ok(())
    }

    /// The templates declared long-term for every user, sorted.
    pub fn long_term_templates(&self) -> Vec<String> {
        let mut templates: Vec<String> = lock(&self.book).long_term.iter().cloned().collect();
        templates.sort();
        templates
    }

    /// Makes `alias` name the same user as `recipient` (an Alipay user's open_id and user_id). What was granted to
    /// `alias` before becomes the user's.
    pub fn alias(&self, alias: &str, recipient: &str) -> Result<(), SandboxFull> {
        let mut guard = lock(&self.book);
        let book = &mut *guard;
        let recipient = book.resolve(recipient);
        if alias == recipient || book.aliases.get(alias).is_some_and(|known| *known == recipient) {
            return Ok(());
        }
        if book.aliases.len() >= MAX_ALIASES {
            return Err(SandboxFull);
        }
        book.aliases.insert(alias.to_owned(), recipient.clone());
        if let Some(held) = book.grants.remove(alias) {
            book.pairs -= held.len();
            let templates = book.grants.entry(recipient).or_default();
            for (template, grant) in held {
                let into = templates.entry(template).or_insert_with(|| {
                    book.pairs += 1;
                    Grant::default()
                });
                merge(into, grant);
            }
        }
        Ok(())
    }

    /// Lets one message of `template_id` go to `recipient`, using up a one-time credit when that is what allows it;
    /// `None` when nothing allows it.
    pub fn take(&self, recipient: &str, template_id: &str) -> Option<Permission> {
        let mut guard = lock(&self.book);
        let book = &mut *guard;
        if book.long_term.contains(template_id) {
            return Some(Permission::LongTermTemplate);
        }
        let recipient = book.resolve(recipient);
        let templates = book.grants.get_mut(&recipient)?;
        let grant = templates.get_mut(template_id)?;
        if grant.standing {
            return Some(Permission::Standing);
        }
        let left = grant.one_time.checked_sub(1)?;
        grant.one_time = left;
        if left == 0 {
            templates.remove(template_id);
            book.pairs -= 1;
            if templates.is_empty() {
                book.grants.remove(&recipient);
            }
        }
        Some(Permission::OneTime { left })
    }

    /// The one-time credits `recipient` holds for `template_id`.
    pub fn credits(&self, recipient: &str, template_id: &str) -> u32 {
        let book = lock(&self.book);
        let recipient = book.resolve(recipient);
        book.grants.get(&recipient).and_then(|templates| templates.get(template_id)).map_or(0, |grant| grant.one_time)
    }
}

/// The body of `POST .../long-term-templates`.
#[derive(Deserialize)]
pub struct LongTermRequest {
    pub template_ids: Vec<String>,
}

/// Template ids as a grant or a declaration names them: 1 to [`MAX_TEMPLATES_PER_GRANT`], each 1 to 128 printable
/// ASCII characters.
pub fn check_template_ids(template_ids: &[String]) -> Result<(), ApiError> {
    if template_ids.is_empty() || template_ids.len() > MAX_TEMPLATES_PER_GRANT {
        return Err(ApiError::bad_request(
            "INVALID_TEMPLATE_IDS",
            format!("`template_ids` must name 1 to {MAX_TEMPLATES_PER_GRANT} templates"),
        ));
    }
    let plausible =
        |id: &String| (1..=MAX_TEMPLATE_ID_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic());
    if !template_ids.iter().all(plausible) {
        return Err(ApiError::bad_request(
            "INVALID_TEMPLATE_IDS",
            "each template id must be 1 to 128 printable ASCII characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn each_one_time_acceptance_allows_exactly_one_message() {
        let subscriptions = Subscriptions::default();
        subscriptions.grant("o1", &ids(&["T1"]), false).unwrap();
        subscriptions.grant("o1", &ids(&["T1"]), false).unwrap();
        assert_eq!(subscriptions.credits("o1", "T1"), 2);
        assert_eq!(subscriptions.take("o1", "T1"), Some(Permission::OneTime { left: 1 }));
        assert_eq!(subscriptions.take("o1", "T1"), Some(Permission::OneTime { left: 0 }));
        assert_eq!(subscriptions.take("o1", "T1"), None);
        assert_eq!(subscriptions.take("o2", "T1"), None, "credits are the user's own");
        assert_eq!(subscriptions.take("o1", "T2"), None, "and the template's");
    }

    #[test]
    fn a_standing_permission_is_not_used_up() {
        let subscriptions = Subscriptions::default();
        subscriptions.grant("o1", &ids(&["T1"]), true).unwrap();
        for _ in 0..3 {
            assert_eq!(subscriptions.take("o1", "T1"), Some(Permission::Standing));
        }
    }

    #[test]
    fn a_long_term_template_reaches_every_user() {
        let subscriptions = Subscriptions::default();
        subscriptions.declare_long_term(&ids(&["LT"])).unwrap();
        assert_eq!(subscriptions.take("anyone", "LT"), Some(Permission::LongTermTemplate));
        assert_eq!(subscriptions.take("anyone", "LT"), Some(Permission::LongTermTemplate));
        assert_eq!(subscriptions.long_term_templates(), ids(&["LT"]));
    }

    #[test]
    fn an_alias_shares_the_users_credits() {
        let subscriptions = Subscriptions::default();
        subscriptions.alias("open-1", "2088-1").unwrap();
        subscriptions.grant("open-1", &ids(&["T1"]), false).unwrap();
        assert_eq!(subscriptions.credits("2088-1", "T1"), 1);
        assert!(subscriptions.take("2088-1", "T1").is_some());
        assert_eq!(subscriptions.take("open-1", "T1"), None);
    }

    #[test]
    fn an_alias_takes_over_what_was_granted_to_it_before() {
        let subscriptions = Subscriptions::default();
        subscriptions.grant("open-1", &ids(&["T1", "T2"]), false).unwrap();
        subscriptions.grant("2088-1", &ids(&["T1"]), false).unwrap();
        subscriptions.alias("open-1", "2088-1").unwrap();
        assert_eq!(subscriptions.credits("2088-1", "T1"), 2);
        assert_eq!(subscriptions.credits("open-1", "T2"), 1);
        assert_eq!(lock(&subscriptions.book).pairs, 2);
    }

    #[test]
    fn credits_saturate() {
        let subscriptions = Subscriptions::default();
        for _ in 0..2 {
            subscriptions.grant("o", &ids(&["T"]), false).unwrap();
        }
        lock(&subscriptions.book).grants.get_mut("o").unwrap().get_mut("T").unwrap().one_time = MAX_CREDITS;
        subscriptions.grant("o", &ids(&["T"]), false).unwrap();
        assert_eq!(subscriptions.credits("o", "T"), MAX_CREDITS);
    }

    #[test]
    fn the_book_refuses_new_pairs_beyond_its_bound() {
        let subscriptions = Subscriptions::default();
        {
            let mut book = lock(&subscriptions.book);
            for n in 0..MAX_SUBSCRIPTIONS {
                let templates = HashMap::from([("T".to_owned(), Grant { one_time: 1, standing: false })]);
                book.grants.insert(format!("o{n}"), templates);
            }
            book.pairs = MAX_SUBSCRIPTIONS;
        }
        assert_eq!(subscriptions.grant("new", &ids(&["T"]), false), Err(SandboxFull));
        assert_eq!(subscriptions.grant("o1", &ids(&["T"]), false), Ok(()), "an existing pair still takes credits");
        assert!(subscriptions.take("o2", "T").is_some());
        assert_eq!(subscriptions.grant("new", &ids(&["T"]), false), Ok(()), "a used-up pair makes room");
        assert_eq!(lock(&subscriptions.book).pairs, MAX_SUBSCRIPTIONS);
    }

    #[test]
    fn template_ids_are_checked() {
        assert!(check_template_ids(&ids(&["bDmywsp2oEHjwAadTGKkUJ-eJEiMiOf7H-dZ7wjdw80"])).is_ok());
        assert!(check_template_ids(&[]).is_err());
        assert!(check_template_ids(&ids(&[""])).is_err());
        assert!(check_template_ids(&ids(&["has space"])).is_err());
        assert!(check_template_ids(&vec!["T".to_owned(); MAX_TEMPLATES_PER_GRANT + 1]).is_err());
    }
}
