"""Corrections: when an answer changes, the people who got the old one hear
the new one (issue 30).

- recipients: who received which version of a topic's answer, on which
  channel and in which language, and whether they can be told now under
  each channel's rules;
- drafts: the correction, drafted by one editor and approved by another;
- sending: sending it to each person once, through a crash and a restart;
- jobs: the sending as a background job the console starts, follows and stops.
"""

# The mark a correction leaves on its message in the person's conversation
# (the tracker's metadata), which transcripts, the web chat and the report read.
MARK = "relais_correction"
