"""Issue 12, finding 12: forged votes.

Vote tokens were sequential row ids valid from any chat: chat 1002, subscribed to
nothing, voted on chat 1001's hit and moved `monitor stats`.
"""

from __future__ import annotations

from monitor.core.models import Article, Hit
from monitor.digests.feedback import parse_vote, vote_data


def stored_hit(store, now) -> int:
    article = Article(
        id="a1",
        feed_url="https://f.example/rss",
        url="https://f.example/1",
        title="Sheinbaum rechaza ataques",
    )
    store.add_new_articles(article.feed_url, [article], now)
    store.add_hits([Hit("a1", "officials", "claudia-sheinbaum", "Sheinbaum", 100, "…")], now)
    [hit_id] = store.hit_ids("a1", [("officials", "claudia-sheinbaum")])
    return hit_id


def test_a_token_votes_only_from_its_own_chat_and_cannot_be_guessed(store, clock):
    hit = stored_hit(store, clock.now)
    token = store.add_vote_target([hit], "1001", clock.now)
    row_id, secret = token.split("-", 1)
    assert len(secret) >= 11  # 64 random bits
    assert store.record_vote(token, "1002", "relevant", clock.now) == 0  # another chat
    assert store.record_vote(row_id, "1001", "relevant", clock.now) == 0  # no secret
    assert store.record_vote(f"{row_id}-{'A' * len(secret)}", "1001", "relevant", clock.now) == 0
    assert store.votes() == []
    assert store.record_vote(token, "1001", "relevant", clock.now) == 1  # its own chat
    assert [v["chat_id"] for v in store.votes()] == ["1001"]
    others = {store.add_vote_target([1], "1001", clock.now).split("-", 1)[1] for _ in range(50)}
    assert len(others) == 50 and secret not in others


def test_a_real_token_still_fits_telegram_callback_data(store, clock):
    token = store.add_vote_target(list(range(500)), "-1001234567890", clock.now)
    data = vote_data("not_relevant", token)
    assert len(data.encode()) <= 64 and parse_vote(data) == ("not_relevant", token)


def test_votes_follow_a_group_that_became_a_supergroup(store, clock):
    token = store.add_vote_target([stored_hit(store, clock.now)], "-42", clock.now)
    store.migrate_chat("-42", "-10042", clock.now)
    assert store.record_vote(token, "-42", "relevant", clock.now) == 0
    assert store.record_vote(token, "-10042", "relevant", clock.now) == 1
