"""Crisis intelligence: what people ask and how the response is going.

The console's event watcher turns every user message Rasa records into a
`MessageFact` (facts.py) and counts it into 5-minute `StatBucket`s; the
overview, the gaps and the post-crisis report read those, and `relais purge`
removes the facts (personal data) while the buckets (figures) stay.
"""
