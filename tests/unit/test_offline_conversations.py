"""The offline topic model follows multi-party chat by its people: who addresses whom, who is in
which conversation, and which lines are only notices of the channel."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.llm.offline_people import BARE_MENTION, EXPLICIT_MENTION, TRAILING_MENTION, People
from memory_domain.model import ChatMessage, Role, Topic
from memory_domain.rewrite_rules import MAX_ACTIVE_TOPICS
from tests.unit.test_offline_model import CJK, GROUP, LATIN, T0, draft_of, message, rewrite, same_topic, topic


def system(message_id: str, content: str, minutes: float) -> ChatMessage:
    """A line of the channel itself, as IRC logs and chat apps deliver them."""
    return ChatMessage(
        message_id, GROUP, "system", "system", Role.USER, content, T0 + timedelta(minutes=minutes)
    )


# Two conversations at once, as on a help channel: dave helps erin with a printer, frank and
# gina talk about a kernel upgrade; the kernel conversation spoke last.
CHANNEL = [
    message("p1", "my printer prints blank pages since the upgrade", 0, "erin"),
    message("k1", "which kernel is best for an old thinkpad?", 1, "gina"),
    message("p2", "erin: check the cups queue, the driver may be gone", 2, "dave"),
    message("k2", "gina: the lts kernel, and keep the old one around", 3, "frank"),
    message("p3", "dave: the queue shows the job as done", 4, "erin"),
    message("k3", "frank: will the lts kernel support my wifi card?", 5, "gina"),
]


@pytest.mark.parametrize(
    "content",
    [
        "dave: any luck with that?",
        "dave, any luck with that?",
        "Dave: any luck with that?",
        "DAVE, any luck with that?",
        "@dave any luck with that?",
        "any luck with that @dave?",
        "any luck with that, dave?",
        "dave any luck with that?",
    ],
)
async def test_every_way_of_addressing_a_person_joins_that_persons_conversation(content: str) -> None:
    # harry has not spoken: only the address can tell where his question goes.
    asked = message("q", content, 6, "harry")

    result = await rewrite([*CHANNEL, asked])

    assert same_topic(result, "p1", "p2", "p3", "q")
    assert not same_topic(result, "k3", "q")


async def test_an_address_outweighs_a_word_shared_with_another_conversation() -> None:
    # "kernel" is the other conversation's word, but the question is put to dave.
    asked = message("q", "dave: what kernel do you run?", 6, "harry")

    result = await rewrite([*CHANNEL, asked])

    assert same_topic(result, "p1", "q")


async def test_a_short_reply_follows_its_senders_own_conversation_not_the_channels_latest() -> None:
    thanks = message("t", "thanks, that fixed it", 6, "erin")

    result = await rewrite([*CHANNEL, thanks])

    assert same_topic(result, "p3", "t")
    assert not same_topic(result, "k3", "t")


async def test_a_short_reply_to_someone_follows_the_conversation_of_the_person_it_answers() -> None:
    # harry has no conversation of his own; "frank: ok" answers frank, who talks about kernels,
    # although the printer conversation spoke last.
    chat = [*CHANNEL, message("p4", "erin: then reinstall the printer driver", 6, "dave")]
    ok = message("o", "frank: ok", 7, "harry")

    result = await rewrite([*chat, ok])

    assert same_topic(result, "k2", "o")


async def test_the_own_conversation_holds_for_minutes_not_hours() -> None:
    later = message("n", "how do I share a folder with samba?", 5 + 3 * 60, "erin")

    result = await rewrite([*CHANNEL, later])

    assert draft_of(result, "n") is not draft_of(result, "p3")


async def test_a_greeting_opens_a_conversation_instead_of_joining_the_latest_one() -> None:
    hello = message("h", "hi all", 6, "ivan")
    question = message("hq", "my screen flickers after login, any idea?", 7, "ivan")

    result = await rewrite([*CHANNEL, hello, question])

    assert same_topic(result, "h", "hq")
    assert not same_topic(result, "k3", "h")


def test_a_leading_name_matches_in_any_case_and_a_bare_word_only_when_clearly_a_name() -> None:
    speakers = [message(f"s{i}", "hello", 0, name) for i, name in enumerate(["will", "jdub", "Hikaru79"])]
    people = People(speakers)

    assert people.addressed("Will: try the other port", None) == {"will": EXPLICIT_MENTION}
    assert people.addressed("WILL, try the other port", None) == {"will": EXPLICIT_MENTION}
    # "will" is a common word: in the middle of a sentence it names no one.
    assert people.addressed("I will try the other port", None) == {}
    # A plain nick counts where it ends the line or a clause, as people address in chat.
    assert people.addressed("ic jdub", None) == {"jdub": TRAILING_MENTION}
    assert people.addressed("hey jdub, any news?", None) == {"jdub": TRAILING_MENTION}
    assert people.addressed("the jdub approach works", None) == {}
    # A nick that cannot be a word counts anywhere, but only as a hint.
    assert people.addressed("hikaru79 said winrar works", None) == {"hikaru79": BARE_MENTION}
    assert BARE_MENTION < TRAILING_MENTION < EXPLICIT_MENTION
    # "steve:" addresses "Steve^": people drop the decoration nicks pick up.
    people = People([*speakers, message("s9", "hi", 0, "Steve^")])
    assert people.addressed("steve: try it", None) == {"steve^": EXPLICIT_MENTION}
    # Nobody addresses themselves.
    assert people.addressed("jdub: note to self", "jdub") == {}


async def test_a_name_mentioned_in_passing_does_not_glue_an_aside_to_that_persons_topic() -> None:
    chat = [
        message("r1", "my raid array will not assemble after the reboot", 0, "Hikaru79"),
        *CHANNEL[:2],
        message("r2", "Hikaru79: run mdadm --assemble --scan and paste the output", 2, "nafallo"),
        *CHANNEL[2:],
    ]
    aside = message("a", "is there a good photo editor like the one Hikaru79 uses for wallpapers?", 7, "kim")

    result = await rewrite([*chat, aside])

    assert same_topic(result, "r1", "r2")
    assert not same_topic(result, "r1", "a")


async def test_addressing_names_never_title_a_topic() -> None:
    chat = [
        message("w1", "wifi drops every few minutes on my laptop", 0, "zeta42"),
        message("w2", "zeta42: which wifi chipset does the laptop have?", 1, "omar"),
        message("w3", "omar: an intel wifi chipset, iwlwifi driver", 2, "zeta42"),
        message("w4", "zeta42: turn off wifi power saving for iwlwifi", 3, "omar"),
    ]

    [draft] = (await rewrite(chat)).topics

    assert "zeta42" not in draft.title.lower() and "omar" not in draft.title.lower()
    assert "wifi" in draft.title.lower()


JOINS = [
    system("j1", "=== kim [~kim@host-1.example.net] has joined #help", 1.5),
    system("j2", "=== lev is now known as lev-away", 2.5),
    system("j3", "=== max [~max@10.0.0.7] has quit [Ping timeout]", 3.5),
]


async def test_notices_go_to_a_topic_of_their_own_and_leave_conversations_clean() -> None:
    result = await rewrite([*CHANNEL, *JOINS])

    notices = draft_of(result, "j1")
    assert same_topic(result, "j1", "j2", "j3")
    assert not set(notices.new_message_ids) - {"j1", "j2", "j3"}
    # Titled by what happened, in the chat's words; never by a nick or a host mask.
    assert notices.title == "has joined · has quit · is now known as"
    assert "@" not in notices.summary and "===" not in notices.summary
    for draft in result.topics:
        if draft is not notices:
            assert "joined" not in draft.title + draft.summary and "known" not in draft.summary
    assert same_topic(result, "p1", "p2", "p3") and same_topic(result, "k1", "k2", "k3")


async def test_an_action_line_is_its_actors_message() -> None:
    action = system("act", "* erin reboots to try again", 6)

    result = await rewrite([*CHANNEL, action])

    assert same_topic(result, "p3", "act")
    assert "reboots" not in draft_of(result, "k1").summary


async def test_a_system_announcement_with_content_is_placed_by_what_it_says() -> None:
    chat = [
        message("m1", "the orders database moves from mysql to postgresql on saturday", 0, "wang"),
        message("m2", "is the postgresql migration script for the orders database ready?", 1, "li"),
    ]
    pinned = system("pin", "wang pinned a message: orders database migration to postgresql at 23:00", 2)

    result = await rewrite([*chat, pinned])

    assert same_topic(result, "m1", "m2", "pin")


async def test_a_finished_notices_topic_is_archived_before_any_conversation() -> None:
    notices = topic("t-notices", "has joined", "kim has joined #help", ["j0"])
    printer = topic("t-printer", "printer · cups", "erin's printer prints blank pages.", ["p1", "p2"])
    kernels = topic("t-kernel", "kernel · lts", "gina asks which kernel to run.", ["k1", "k2"])
    context = [system("j0", "=== kim has joined #help", -120), *CHANNEL[:4]]
    new = [CHANNEL[4], CHANNEL[5]]

    result = await rewrite(new, [notices, printer, kernels], context)

    kept = {draft.topic_id for draft in result.topics}
    assert kept == {"t-printer", "t-kernel"}


async def test_notices_never_push_a_conversation_out_of_a_full_memory() -> None:
    conversations = [
        topic(f"t{index}", f"subject{index} · thing{index}", f"subject{index} and thing{index}.")
        for index in range(MAX_ACTIVE_TOPICS - 1)
    ]
    # The notices topic is the most recent, and it still goes first.
    notices = Topic("t-notices", "has joined", "kim has joined #help", (), T0, T0 + timedelta(hours=1))
    # A new conversation needs a slot: the notices topic gives it up, no conversation does.
    new = [message("x1", "anyone tried the zq9 gamepad with steam?", 0, "pat")]

    result = await rewrite(new, [notices, *conversations])

    kept = {draft.topic_id for draft in result.topics}
    assert kept == {f"t{index}" for index in range(MAX_ACTIVE_TOPICS - 1)} | {None}


async def test_a_notice_joins_the_notices_topic_of_its_hour_across_updates() -> None:
    notices = topic("t-notices", "has joined", "kim has joined #help", ["j1"])
    printer = topic("t-printer", "printer · cups", "erin's printer prints blank pages.", ["p1", "p2", "p3"])
    context = [CHANNEL[0], JOINS[0], CHANNEL[2], CHANNEL[4]]
    late = system("j9", "=== ola has joined #help", 20)
    next_hour = system("j10", "=== pia has joined #help", 65)

    result = await rewrite([late, next_hour], [notices, printer], context)

    assert draft_of(result, "j9").topic_id == "t-notices"
    assert draft_of(result, "j10").topic_id is None  # a new hour, a new notices topic


def test_a_channel_name_is_a_valid_group_id() -> None:
    from memory_domain.errors import InvalidMessage
    from memory_domain.model import validate_group_id

    assert validate_group_id("#ubuntu") == "#ubuntu"
    assert validate_group_id("##linux") == "##linux"
    for bad in ("#", "#-x", "a#b", "# ubuntu"):
        with pytest.raises(InvalidMessage, match="leading #"):
            validate_group_id(bad)
    ChatMessage("m1", "#ubuntu", "u1", "U", Role.USER, "hi", T0)


# A Chinese work group: a database migration and a team outing run side by side.
MIGRATION_AND_OUTING = [
    message("c1", "@老李 数据库迁移脚本写好了吗？", 0, "小王"),
    message("c2", "周五团建去爬山还是去唱歌？", 1, "小红"),
    message("c3", "小王，写好了，今晚在测试环境跑一遍。", 2, "老李"),
    message("c4", "小红：我投爬山一票，记得带水。", 3, "阿强"),
    message("c5", "老李:回滚方案也准备一下", 4, "小王"),
    message("c6", "好的", 5, "小红"),
    message("c7", "阿强：那就定爬山，早上八点公司门口集合。", 6, "小红"),
    message("c8", "收到", 7, "老李"),
]


async def test_a_chinese_group_is_followed_by_whom_people_address_and_stays_chinese() -> None:
    result = await rewrite(MIGRATION_AND_OUTING)

    # "小王，…" (full-width comma) and "老李:" (ASCII colon) address the two people of the
    # migration, as "@老李" did: their lines belong to it although the outing came between.
    assert same_topic(result, "c1", "c3", "c5")
    # "小红：…" answers 小红's question about the outing.
    assert same_topic(result, "c2", "c4", "c7")
    # "好的" is 小红's: she is in the outing conversation, although the channel's latest line was
    # about the migration; "收到" is 老李's, who is in the migration, although the outing spoke last.
    assert same_topic(result, "c2", "c6")
    assert same_topic(result, "c1", "c8")
    assert len(result.topics) == 2
    names = ("小王", "老李", "小红", "阿强")
    for draft in result.topics:
        # A Chinese chat keeps Chinese titles (compared by character bigrams), never made of names.
        assert CJK.search(draft.title) and not LATIN.search(draft.title), draft.title
        assert not any(name in draft.title for name in names), draft.title
