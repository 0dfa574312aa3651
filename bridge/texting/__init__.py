"""Texting a missed caller back: who may be texted (policy), with what words
(plan), the outbox worker that sends, and which transport carries each text."""
