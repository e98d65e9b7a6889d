"""The commands and buttons: parse the arguments -> `chats` / the store -> a `replies` text."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError

from monitor.bot import replies
from monitor.bot.talk import (
    Context,
    answer,
    buttons,
    chat_id_of,
    off_loop,
    reply,
    runtime_of,
    user_id_of,
)
from monitor.core.errors import UserError
from monitor.digests import feedback
from monitor.pipeline import chats
from monitor.pipeline.cycle import deliver
from monitor.pipeline.runtime import Runtime
from monitor.pipeline.status import collect_status

log = logging.getLogger(__name__)

Handler = Callable[[Update, Context, Runtime, list[str]], Awaitable[None]]


# -- commands: parse -> act -> reply ------------------------------------------------------
async def on_start(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    """What the bot does, how to subscribe; a chat that blocked us and came back resumes."""
    chat_id = chat_id_of(update)
    resumed, settings = await off_loop(
        update, lambda: (chats.resume(rt, chat_id), chats.chat_settings(rt, chat_id))
    )
    markup = buttons("sub", [w.id for w in rt.library.watchlists])
    await reply(update, replies.welcome_text(settings, resumed), markup)


async def on_help(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    admin = chats.is_admin(rt.config, user_id_of(update))
    await reply(update, replies.help_text(admin, rt.config.poll.alert_max_age_hours))


async def on_watchlists(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    await reply(update, replies.watchlists_texts(rt.library))


async def on_subscribe(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    """/subscribe <watchlist> [topic …]; with no argument, a button per watchlist."""
    if not args:
        markup = buttons("sub", [w.id for w in rt.library.watchlists])
        await reply(
            update,
            "Tap a watchlist to follow all its topics, or name some:\n"
            + replies.usage("subscribe"),
            markup,
        )
        return
    chat_id = chat_id_of(update)

    def act() -> str:
        sub = chats.subscribe(rt, chat_id, args[0], args[1:], rt.clock())
        settings = chats.chat_settings(rt, chat_id)
        return replies.subscribed_text(sub.watchlist, sub.topics, settings)

    await reply(update, await off_loop(update, act))


async def on_unsubscribe(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    """/unsubscribe <watchlist>|all; with no argument, a button per subscription."""
    if not args:
        chat_id = chat_id_of(update)
        mine = [
            s.watchlist for s in await off_loop(update, lambda: rt.store.subscriptions(chat_id))
        ]
        if not mine:
            raise UserError("You follow nothing yet.")
        markup = buttons("unsub", mine, extra=[("All of them", "all")])
        await reply(update, "Tap what to stop following:", markup)
        return
    chat_id = chat_id_of(update)
    if len(args) > 1:  # /unsubscribe officials ken-salazar: some topics only
        left = await off_loop(
            update, lambda: chats.unsubscribe_topics(rt, chat_id, args[0], args[1:], rt.clock())
        )
        await reply(update, replies.topics_left_text(args[0].lower(), left))
        return
    dropped = await off_loop(update, lambda: chats.unsubscribe(rt, chat_id, args[0]))
    await reply(update, replies.unsubscribed_text(dropped))


async def on_mysubs(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    chat_id = chat_id_of(update)
    settings = await off_loop(update, lambda: chats.chat_settings(rt, chat_id))
    await reply(update, replies.mysubs_text(settings, rt.clock()))


async def on_digest(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    """Today's digest so far, through the outbox like every digest."""
    chat_id, key = chat_id_of(update), str(update.update_id)
    queued = await off_loop(update, lambda: chats.queue_digest_now(rt, chat_id, rt.clock(), key))
    if not queued:
        await reply(update, "Nothing yet today for what you follow. /recent shows earlier hits.")
        return
    context.application.create_task(deliver(rt), update=update)


async def on_digesttime(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    """/digesttime HH:MM [Area/City]; with no argument, the current setting."""
    chat_id = chat_id_of(update)
    if not args:
        settings = await off_loop(update, lambda: chats.chat_settings(rt, chat_id))
        await reply(
            update,
            replies.digest_time_text(settings, rt.clock()) + "\n" + replies.usage("digesttime"),
        )
        return
    settings = await off_loop(update, lambda: chats.set_digest_time(rt, chat_id, args, rt.clock()))
    await reply(update, replies.digest_time_text(settings, rt.clock()))


async def on_mute(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    if len(args) != 1:
        raise UserError("Say for how many hours.")
    chat_id = chat_id_of(update)
    until, settings = await off_loop(
        update,
        lambda: (chats.mute(rt, chat_id, args[0], rt.clock()), chats.chat_settings(rt, chat_id)),
    )
    await reply(update, replies.muted_text(until, settings))


async def on_unmute(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    chat_id = chat_id_of(update)
    was_muted, held = await off_loop(update, lambda: chats.unmute(rt, chat_id, rt.clock()))
    await reply(update, replies.unmuted_text(was_muted, held))


async def on_recent(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    count = chats.parse_count(args, chats.DEFAULT_RECENT, chats.MAX_RECENT)
    chat_id = chat_id_of(update)
    rows, settings = await off_loop(
        update, lambda: (rt.store.recent_hits(chat_id, count), chats.chat_settings(rt, chat_id))
    )
    await reply(update, replies.recent_texts(rows, settings))


async def on_search(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    if not args:
        raise UserError("Search for what?")
    query = " ".join(args)
    chat_id = chat_id_of(update)
    (rows, corrected), settings = await off_loop(
        update,
        lambda: (rt.store.search(query, chats.SEARCH_RESULTS), chats.chat_settings(rt, chat_id)),
    )
    await reply(update, replies.search_texts(query, rows, settings, corrected))


async def on_status(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    """Feeds ok/failing, last poll, outbox depth: for admins only."""
    if not chats.is_admin(rt.config, user_id_of(update)):
        await reply(update, replies.admin_only_text(user_id_of(update)))
        return
    status = await off_loop(update, lambda: collect_status(rt.store, rt.config, rt.clock()))
    await reply(update, replies.status_text(status))


# -- everything else ------------------------------------------------------------------------
async def on_button(update: Update, context: Context) -> None:
    """The inline buttons of /start, /subscribe and /unsubscribe."""
    query, rt = update.callback_query, runtime_of(context)
    action, _, value = query.data.partition(":")  # type: ignore[union-attr]  # routed by its data pattern
    chat_id = chat_id_of(update)

    def act() -> str:
        if action == "sub":
            sub = chats.subscribe(rt, chat_id, value, [], rt.clock())
            return replies.subscribed_text(
                sub.watchlist, sub.topics, chats.chat_settings(rt, chat_id)
            )
        return replies.unsubscribed_text(chats.unsubscribe(rt, chat_id, value))

    try:
        text = await off_loop(update, act)
    except UserError as exc:
        await answer(query, exc.message, alert=True)
        return
    await answer(query)
    await reply(update, text)


async def on_vote(update: Update, context: Context) -> None:
    """👍 / 👎 under an alert or a digest entry: store the vote, answer, tick the choice."""
    query, rt = update.callback_query, runtime_of(context)
    data = query.data or ""  # type: ignore[union-attr]  # a CallbackQueryHandler gets a query
    chat_id = chat_id_of(update)
    try:
        said = await off_loop(
            update, lambda: feedback.cast_vote(rt.store, chat_id, data, rt.clock())
        )
    except UserError as exc:
        await answer(query, exc.message, alert=True)
        return
    await answer(query, said)
    markup = getattr(query.message, "reply_markup", None)  # type: ignore[union-attr]  # as above
    vote, token = feedback.parse_vote(data)  # type: ignore[misc]  # cast_vote accepted it: it parses
    if markup is None:  # too old for Telegram to show us the message
        return
    marked = feedback.mark_choice(markup.to_dict(), token, vote)
    if marked == markup.to_dict():
        return
    try:
        await query.edit_message_reply_markup(InlineKeyboardMarkup.de_json(marked, context.bot))  # type: ignore[union-attr]  # as above
    except BadRequest as exc:  # the message can no longer be edited: the vote still counts
        log.info("vote keyboard not updated chat=%s error=%s", chat_id_of(update), exc.message)
    except Exception:  # the vote is stored and confirmed: a failed tick is no failure
        log.exception("vote keyboard not updated chat=%s", chat_id_of(update))


async def on_stale_button(update: Update, context: Context) -> None:
    """A button this bot no longer knows (an old message, a forged press): answered, so
    the client's spinner stops, and nothing else happens."""
    log.info("unknown button chat=%s data=%r", chat_id_of(update), update.callback_query.data)  # type: ignore[union-attr]  # as above
    await answer(update.callback_query, "This button no longer works. /help lists the commands.")


async def on_migrate(update: Update, context: Context) -> None:
    """A group became a supergroup: its subscriptions and queue follow the new id."""
    message, rt = update.effective_message, runtime_of(context)
    if message is None or not message.migrate_to_chat_id:
        return
    old, new = str(message.chat.id), str(message.migrate_to_chat_id)
    await off_loop(update, lambda: chats.migrate(rt, old, new, rt.clock()))
    log.info("chat migrated chat=%s new_chat=%s", old, new)


async def on_unknown_command(update: Update, context: Context) -> None:
    word = update.effective_message.text.split()[0]  # type: ignore[union-attr]  # a COMMAND filter: text
    name, _, bot_name = word.partition("@")
    if bot_name and bot_name.lower() != (context.bot.username or "").lower():
        return  # a command for another bot in the same group
    await reply(update, replies.unknown_command_text(name))


async def on_plain_text(update: Update, context: Context) -> None:
    await reply(update, "I answer commands: /help lists them, /watchlists shows what to follow.")


async def on_error(update: object, context: Context) -> None:
    """Log the failure with its traceback; the chat gets one line, never the traceback."""
    log.error(
        "update failed update_id=%s", getattr(update, "update_id", None), exc_info=context.error
    )
    if isinstance(update, Update) and update.effective_chat:
        try:
            await reply(update, "Sorry, that failed on our side. Please try again in a minute.")
        except TelegramError:
            log.warning(
                "could not tell the chat about the failure chat=%s", update.effective_chat.id
            )


COMMAND_HANDLERS: dict[str, Handler] = {
    "start": on_start,
    "help": on_help,
    "watchlists": on_watchlists,
    "subscribe": on_subscribe,
    "unsubscribe": on_unsubscribe,
    "mysubs": on_mysubs,
    "digest": on_digest,
    "digesttime": on_digesttime,
    "mute": on_mute,
    "unmute": on_unmute,
    "recent": on_recent,
    "search": on_search,
    "status": on_status,
}
