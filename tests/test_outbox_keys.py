"""Outbox keys are stored (`outbox.dedupe_key` is UNIQUE): a key whose format changed
between versions would queue again, after an upgrade, every message already sent."""

from monitor.core import outbox


def test_key_formats_stay_what_existing_databases_hold():
    assert outbox.alert_key("42", "a1") == "alert:42:a1"
    assert outbox.surge_key("42", "a1") == "surge:42:a1"
    assert outbox.digest_key("42", "2026-12-03") == "digest:42:2026-12-03"
    assert outbox.digest_key("42", "2026-12-03", zone="UTC") == "digest:42:2026-12-03@UTC"
    assert outbox.part_key("digest:42:2026-12-03", 1) == "digest:42:2026-12-03"
    assert outbox.part_key("digest:42:2026-12-03", 2) == "digest:42:2026-12-03:2"
    assert outbox.digest_now_key("42", "9001", 1) == "digest-now:42:9001:1"
    assert outbox.rejected_watchlists_key("1", "T", "abc") == "notice:watchlists:1:T:abc"
    assert outbox.removed_watchlist_key("1", "w", "T") == "notice:removed:1:w:T"


def test_a_surge_and_an_alert_of_one_story_in_one_chat_have_different_keys():
    assert outbox.alert_key("42", "a1") != outbox.surge_key("42", "a1")
