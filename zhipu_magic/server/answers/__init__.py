"""Deterministic answers for the local server.

Kept apart from the HTTP code so the wire format and the demo content can change independently.
Everything here is a pure function of the request: the same prompt always gives the same answer,
so tests can assert on text and demos look the same on every run. Answers are meant to exercise a
renderer: Markdown headings, lists, code, tables, inline and display math, Chinese text and emoji.

:mod:`.plan` turns a chat request into a reply plan (directives, pieces, tool calls, usage);
:mod:`.context` answers in view of the whole request: the earlier turns (:mod:`.recall`: a stated
name recalled, the earlier turn quoted, "which of those" and "and one for X?" resolved), the system
prompt (acknowledged; terse, a language or a pirate obeyed), the JSON keys the prompt names
(:mod:`.json_keys`), a long story, a label the prompt names or "in N words" (:mod:`.labels`);
:mod:`.intents` decides what the prompt itself asks for and writes the text, from the canned pieces
in :mod:`.templates`, :mod:`.blocks` and :mod:`.translation`.
Nothing is imported here, so each module is imported by name.
"""
