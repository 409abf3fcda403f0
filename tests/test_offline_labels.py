"""The local server's short answers over a text (tutorial 08, ``%%glm --map``): a prompt that names its
labels gets exactly one of them by a rule anyone can check, "in N words" gets N words of the text, and
JSON keys about the text are read from it. Over real HTTP to the fixture server; deterministic; nothing
else in the answer (a one-word answer is one word: no heading, emoji or Chinese label)."""

from __future__ import annotations

import json

import pytest

from zhipu_magic.server.answers.labels import NEGATIVE, POSITIVE

SENTIMENT = "Classify the sentiment of this review as positive, negative or neutral. Answer with one word."
REVIEWS = {
    "Great battery, lasts two days.": "positive",
    "Stopped charging after a week.": "negative",
    "It is a phone. It makes calls.": "neutral",
    "The screen is gorgeous and bright.": "positive",
    "Support never answered my emails.": "negative",
    "Good value for the price.": "positive",
    "The case cracked when it fell.": "negative",
}


def say(make, content: str, system: str = "", **params) -> str:
    messages = [{"role": "system", "content": system}] if system else []
    body = make().chat([*messages, {"role": "user", "content": content}], "glm-4-flash", **params)
    return body["choices"][0]["message"]["content"]


@pytest.mark.parametrize(("review", "label"), REVIEWS.items())
def test_a_sentiment_prompt_gets_one_named_label_by_the_word_rule(make, review: str, label: str) -> None:
    text = say(make, f"{SENTIMENT}\n\nReview: {review}")
    assert text == label and text == say(make, f"{SENTIMENT}\n\nReview: {review}")
    words = {w.strip(".,").lower() for w in review.split()}
    rule = "positive" if words & POSITIVE else "negative" if words & NEGATIVE else "neutral"
    assert text == rule  # the rule the tutorial states, nothing hidden


@pytest.mark.parametrize(
    ("prompt", "labels", "expected"),
    [
        ("Pick one of: cat, dog, bird.\n\nThe dog barked all night.", {"cat", "dog", "bird"}, "dog"),
        ("Answer with one word: yes or no. Is Python fun?", {"yes", "no"}, None),
        ("Label it spam or ham: WIN A FREE PRIZE NOW", {"spam", "ham"}, None),
        ('Classify "the soup was great" as good or bad.', {"good", "bad"}, None),
        ("Sentiment (positive/negative)?\n\nIt broke in a day.", None, "negative"),
        ("Which team? Answer with one of: Red, Blue.\n\nText: the blue bus left.", {"Red", "Blue"}, "Blue"),
    ],
)
def test_named_labels_give_exactly_one_of_them(make, prompt, labels, expected) -> None:
    text = say(make, prompt)
    assert text == say(make, prompt) and "\n" not in text and " " not in text, text
    assert text in (labels or {"positive", "negative"}), text
    if expected:
        assert text == expected  # a label whose word is in the text (or the sentiment rule)


@pytest.mark.parametrize(
    ("review", "words"),
    [
        ("Great battery, lasts two days.", "Great battery lasts"),
        ("Stopped charging after a week.", "Stopped charging week"),
        ("It is a phone. It makes calls.", "phone makes calls"),
    ],
)
def test_in_three_words_is_three_words_of_the_text(make, review: str, words: str) -> None:
    text = say(make, f"Summarise this review in three words.\n\nReview: {review}")
    assert text == words and len(text.split()) == 3
    assert all(w.lower() in review.lower() for w in text.split())
    assert "Summarise" not in text and "摘要" not in text  # not the prompt repeated, no heading


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        ("Describe this review in one word.\n\nThe screen is gorgeous and bright.", "screen"),
        ("What is a notebook? Answer in one word.", "notebook"),
        ('Give a two-word summary of "the case cracked when it fell".', "case cracked"),
        ("Explain recursion in 5 words.", "recursion"),  # the prompt holds one word besides the ask
    ],
)
def test_one_word_and_n_words(make, prompt: str, answer: str) -> None:
    assert say(make, prompt) == answer


def test_json_keys_about_the_text_are_read_from_it(make) -> None:
    ask = "Which part of the product is this review about? Reply in JSON with keys part and mood.\n\n"
    got = {r: json.loads(say(make, ask + r, response_format={"type": "json_object"})) for r in REVIEWS}
    assert got["Great battery, lasts two days."] == {"part": "battery", "mood": "positive"}
    assert got["The case cracked when it fell."] == {"part": "case", "mood": "negative"}
    assert got["It is a phone. It makes calls."] == {"part": "phone", "mood": "neutral"}
    for review, obj in got.items():
        assert list(obj) == ["part", "mood"] and obj["mood"] == REVIEWS[review]
        assert obj["part"] in review.lower()
    keyed = say(
        make,
        "Support never answered my emails.",
        system="Reply in JSON with keys topic, sentiment, keywords.",
        response_format={"type": "json_object"},
    )
    assert json.loads(keyed) == {
        "topic": "support",
        "sentiment": "negative",
        "keywords": ["support", "never", "answered"],
    }


def test_other_prompts_keep_their_answers(make) -> None:
    for prompt in ("Should I use Python or Rust?", "Name five moons of Saturn.", "Write a haiku about tea."):
        assert len(say(make, prompt).split()) > 10, prompt
    assert say(make, f"{SENTIMENT}\n\nGreat!", system="Be terse.") == "positive"  # one word, no note
