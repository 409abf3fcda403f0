"""Conversations: history, per-cell replacement in place, reset, registry listeners."""

from __future__ import annotations

import threading

from zhipu_magic.core.conversation import ConversationRegistry, conversations


def test_history_and_append():
    reg = ConversationRegistry()
    conv = reg.get("a")
    assert reg.get("a") is conv and reg.names() == ["a"] and "a" in reg
    assert conv.messages() == []
    conv.add_turn("q1", "a1")
    conv.add_turn("q2", "a2")
    assert conv.messages() == [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2"},
    ]
    conv.system = "be terse"
    assert conv.messages()[0] == {"role": "system", "content": "be terse"}


def test_rerun_replaces_in_place():
    conv = ConversationRegistry().get("c")
    conv.add_turn("q1", "a1", cell_id="cell-1")
    conv.add_turn("q2", "a2", cell_id="cell-2")
    conv.add_turn("q3", "a3", cell_id="cell-3")
    # Re-running cell 2: the history sent is what came before it...
    assert [m["content"] for m in conv.messages(before_cell="cell-2")] == ["q1", "a1"]
    # ...and its turn is replaced where it was; later turns stay.
    conv.add_turn("q2'", "a2'", cell_id="cell-2")
    assert [t.user for t in conv.turns] == ["q1", "q2'", "q3"]
    assert len(conv) == 3
    # Unknown cell: full history; no cell id: append.
    assert len(conv.messages(before_cell="cell-9")) == 6
    conv.add_turn("q4", "a4")
    conv.add_turn("q4", "a4")
    assert len(conv) == 5


def test_reset_one_and_all_and_listeners():
    reg = ConversationRegistry()
    seen = []
    unsubscribe = reg.subscribe(seen.append)
    reg.get("a").add_turn("q", "a")
    reg.get("b").add_turn("q", "a")
    reg.reset("a")
    assert reg.names() == ["b"]
    reg.reset()
    assert reg.names() == []
    assert seen == ["a", "b", "a", "b"]
    unsubscribe()
    reg.get("x").add_turn("q", "a")
    assert seen == ["a", "b", "a", "b"]


def test_broken_listener_does_not_break_turns():
    reg = ConversationRegistry()
    reg.subscribe(lambda name: 1 / 0)
    reg.get("a").add_turn("q", "a")
    assert len(reg.get("a")) == 1


def test_threads_do_not_lose_turns():
    conv = ConversationRegistry().get("t")

    def work(k: int) -> None:
        for i in range(200):
            conv.add_turn(f"{k}-{i}", "x")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(conv) == 800


def test_module_registry_exists():
    assert isinstance(conversations, ConversationRegistry)
