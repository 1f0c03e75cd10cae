//! When reminders go out: the steps of the reminder schedule, counted in days from a bill's due date, and the quiet
//! hours that hold messages until morning. Days and hours are Beijing's.

use super::MessageKind;
use crate::domain::calendar::{beijing, beijing_datetime};
use chrono::{Days, NaiveDate, NaiveTime, TimeZone};

/// One step of the reminder schedule: a day relative to the due date (−3: three days before, 0: on it, 7: a week
/// after).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReminderStep {
    pub offset_days: i64,
}

impl ReminderStep {
    /// Due soon before the due date, due today on it, overdue after it.
    pub fn kind(self) -> MessageKind {
        match self.offset_days {
            d if d < 0 => MessageKind::DueSoon,
            0 => MessageKind::DueToday,
            _ => MessageKind::Overdue,
        }
    }

    /// The step's name in the message queue (`messages.stage`): `due_in_3`, `due_today`, `overdue_7`.
    pub fn stage(self) -> String {
        match self.offset_days {
            d if d < 0 => format!("due_in_{}", d.unsigned_abs()),
            0 => "due_today".to_string(),
            d => format!("overdue_{d}"),
        }
    }

    /// The day this step falls on for a bill due on `due_date`; `None` outside the calendar's range.
    pub fn day_for(self, due_date: NaiveDate) -> Option<NaiveDate> {
        shift(due_date, self.offset_days)
    }
}

/// The step of `schedule` (offsets in days from the due date) that falls on `today` for a bill due on `due_date`.
pub fn steps_due_on(schedule: &[i64], due_date: NaiveDate, today: NaiveDate) -> Option<ReminderStep> {
    let offset = today.signed_duration_since(due_date).num_days();
    schedule.contains(&offset).then_some(ReminderStep { offset_days: offset })
}

/// The due dates for which a step of `schedule` falls on `today`, each with its step, earliest due date first: the
/// scheduler asks for the unpaid bills due on those dates.
pub fn due_dates_for(schedule: &[i64], today: NaiveDate) -> Vec<(NaiveDate, ReminderStep)> {
    let mut dates: Vec<(NaiveDate, ReminderStep)> = schedule
        .iter()
        .filter_map(|&offset| Some((shift(today, offset.checked_neg()?)?, ReminderStep { offset_days: offset })))
        .collect();
    dates.sort_by_key(|(date, _)| *date);
    dates.dedup();
    dates
}

/// `date` moved by `days` (negative: earlier).
fn shift(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    let magnitude = Days::new(days.unsigned_abs());
    if days < 0 {
        date.checked_sub_days(magnitude)
    } else {
        date.checked_add_days(magnitude)
    }
}

/// Hours of the Beijing day in which no message goes out: from `start` (quiet) to `end` (no longer quiet). They may
/// wrap midnight (21:00–08:00); `start == end` means there are none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: NaiveTime,
    end: NaiveTime,
}

impl QuietHours {
    pub fn new(start: NaiveTime, end: NaiveTime) -> QuietHours {
        QuietHours { start, end }
    }

    /// No quiet hours: messages go out at any hour.
    pub fn none() -> QuietHours {
        QuietHours { start: NaiveTime::MIN, end: NaiveTime::MIN }
    }

    pub fn start(&self) -> NaiveTime {
        self.start
    }

    pub fn end(&self) -> NaiveTime {
        self.end
    }

    pub fn is_none(&self) -> bool {
        self.start == self.end
    }

    /// Whether the Beijing time of day `time` is quiet: `start` is, `end` is not.
    pub fn contains(&self, time: NaiveTime) -> bool {
        if self.start <= self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        }
    }

    /// Whether the instant `now_ms` (epoch milliseconds) falls in the quiet hours.
    pub fn is_quiet(&self, now_ms: i64) -> bool {
        beijing_datetime(now_ms).is_some_and(|at| self.contains(at.time()))
    }

    /// When a message due at `now_ms` may go out: `now_ms` outside the quiet hours, else the instant they next end.
    pub fn release_at(&self, now_ms: i64) -> i64 {
        let Some(at) = beijing_datetime(now_ms).filter(|at| self.contains(at.time())) else {
            return now_ms;
        };
        let today = at.date_naive();
        // Before the end: it ends later today; otherwise (after a start late in the day) tomorrow.
        let end_day = if at.time() < self.end { Some(today) } else { today.succ_opt() };
        end_day
            .and_then(|day| beijing().from_local_datetime(&day.and_time(self.end)).single())
            .map_or(now_ms, |end| end.timestamp_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    const DEFAULT: [i64; 5] = [-3, 0, 3, 7, 15];

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn beijing_ms(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(y, mo, d, h, mi, s).unwrap().timestamp_millis()
    }

    fn night() -> QuietHours {
        QuietHours::new(hm(21, 0), hm(8, 0))
    }

    #[test]
    fn steps_have_a_kind_by_their_side_of_the_due_date() {
        assert_eq!(ReminderStep { offset_days: -3 }.kind(), MessageKind::DueSoon);
        assert_eq!(ReminderStep { offset_days: -1 }.kind(), MessageKind::DueSoon);
        assert_eq!(ReminderStep { offset_days: 0 }.kind(), MessageKind::DueToday);
        assert_eq!(ReminderStep { offset_days: 1 }.kind(), MessageKind::Overdue);
        assert_eq!(ReminderStep { offset_days: 15 }.kind(), MessageKind::Overdue);
    }

    #[test]
    fn steps_have_stage_names() {
        let stages: Vec<String> = DEFAULT.iter().map(|&d| ReminderStep { offset_days: d }.stage()).collect();
        assert_eq!(stages, ["due_in_3", "due_today", "overdue_3", "overdue_7", "overdue_15"]);
    }

    #[test]
    fn the_step_of_today_is_found_from_the_due_date() {
        let due = day(2026, 11, 10);
        assert_eq!(steps_due_on(&DEFAULT, due, day(2026, 11, 7)), Some(ReminderStep { offset_days: -3 }));
        assert_eq!(steps_due_on(&DEFAULT, due, day(2026, 11, 10)), Some(ReminderStep { offset_days: 0 }));
        assert_eq!(steps_due_on(&DEFAULT, due, day(2026, 11, 25)), Some(ReminderStep { offset_days: 15 }));
        assert_eq!(steps_due_on(&DEFAULT, due, day(2026, 11, 8)), None);
        assert_eq!(steps_due_on(&DEFAULT, due, day(2026, 11, 26)), None);
        assert_eq!(steps_due_on(&[], due, due), None);
    }

    #[test]
    fn steps_count_across_month_and_year_ends() {
        assert_eq!(steps_due_on(&DEFAULT, day(2026, 12, 29), day(2027, 1, 5)), Some(ReminderStep { offset_days: 7 }));
        assert_eq!(steps_due_on(&DEFAULT, day(2024, 3, 1), day(2024, 2, 27)), Some(ReminderStep { offset_days: -3 }));
    }

    #[test]
    fn due_dates_with_a_step_today_are_listed_earliest_first() {
        let today = day(2026, 11, 10);
        let dates = due_dates_for(&DEFAULT, today);
        let expected = [
            (day(2026, 10, 26), 15),
            (day(2026, 11, 3), 7),
            (day(2026, 11, 7), 3),
            (day(2026, 11, 10), 0),
            (day(2026, 11, 13), -3),
        ];
        let expected: Vec<_> = expected.iter().map(|&(d, o)| (d, ReminderStep { offset_days: o })).collect();
        assert_eq!(dates, expected);
        for (due, step) in dates {
            assert_eq!(steps_due_on(&DEFAULT, due, today), Some(step));
            assert_eq!(step.day_for(due), Some(today));
        }
    }

    #[test]
    fn due_dates_ignore_repeated_offsets() {
        assert_eq!(due_dates_for(&[0, 0], day(2026, 1, 1)).len(), 1);
        assert!(due_dates_for(&[], day(2026, 1, 1)).is_empty());
    }

    #[test]
    fn quiet_hours_wrap_midnight_with_start_quiet_and_end_not() {
        let quiet = night();
        assert!(quiet.contains(hm(21, 0)));
        assert!(quiet.contains(hm(23, 59)));
        assert!(quiet.contains(hm(0, 0)));
        assert!(quiet.contains(NaiveTime::from_hms_opt(7, 59, 59).unwrap()));
        assert!(!quiet.contains(hm(8, 0)));
        assert!(!quiet.contains(NaiveTime::from_hms_opt(20, 59, 59).unwrap()));
        assert!(!quiet.contains(hm(12, 0)));
    }

    #[test]
    fn quiet_hours_within_one_day() {
        let quiet = QuietHours::new(hm(12, 0), hm(14, 0));
        assert!(!quiet.contains(NaiveTime::from_hms_opt(11, 59, 59).unwrap()));
        assert!(quiet.contains(hm(12, 0)));
        assert!(!quiet.contains(hm(14, 0)));
        let at = beijing_ms(2026, 11, 3, 13, 0, 0);
        assert_eq!(quiet.release_at(at), beijing_ms(2026, 11, 3, 14, 0, 0));
    }

    #[test]
    fn equal_start_and_end_mean_no_quiet_hours() {
        let quiet = QuietHours::new(hm(21, 0), hm(21, 0));
        assert!(quiet.is_none());
        assert!(!quiet.contains(hm(21, 0)));
        assert!(QuietHours::none().is_none());
        let now = beijing_ms(2026, 11, 3, 23, 0, 0);
        assert_eq!(QuietHours::none().release_at(now), now);
    }

    #[test]
    fn outside_quiet_hours_a_message_goes_now() {
        let now = beijing_ms(2026, 11, 3, 8, 0, 0);
        assert_eq!(night().release_at(now), now);
        let evening = beijing_ms(2026, 11, 3, 20, 59, 59) + 999;
        assert_eq!(night().release_at(evening), evening);
        assert!(!night().is_quiet(evening));
    }

    #[test]
    fn a_message_at_the_start_waits_for_the_next_morning() {
        let start = beijing_ms(2026, 11, 3, 21, 0, 0);
        assert!(night().is_quiet(start));
        assert_eq!(night().release_at(start), beijing_ms(2026, 11, 4, 8, 0, 0));
    }

    #[test]
    fn a_message_after_midnight_waits_for_the_same_morning() {
        let early = beijing_ms(2026, 11, 4, 0, 30, 0);
        assert_eq!(night().release_at(early), beijing_ms(2026, 11, 4, 8, 0, 0));
        let last = beijing_ms(2026, 11, 4, 7, 59, 59) + 999;
        assert_eq!(night().release_at(last), beijing_ms(2026, 11, 4, 8, 0, 0));
    }

    #[test]
    fn quiet_hours_are_beijing_hours_not_utc() {
        // 13:30 UTC is 21:30 in Beijing: quiet, until 08:00 Beijing = 00:00 UTC the next day.
        let now = chrono::Utc.with_ymd_and_hms(2026, 12, 31, 13, 30, 0).unwrap().timestamp_millis();
        let morning = chrono::Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap().timestamp_millis();
        assert_eq!(night().release_at(now), morning);
    }
}
