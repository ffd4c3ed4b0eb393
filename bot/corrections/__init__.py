"""Corrections: when an answer changes, the people who got the old one hear
the new one (issue 30).

- recipients: who received which version of a topic's answer, on which
  channel and in which language, and whether they can be told now under
  each channel's rules.
"""
