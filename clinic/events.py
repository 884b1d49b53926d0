"""Events one app announces and another acts on, where the first may not import the second.

`enrollment_ended` is sent inside the transaction that ends an enrollment (referrals' discharge):
scheduling/ listens and gives the enrollment's future places back at once (freeing them for the
waitlist), in that same transaction, so a discharge and its freed places are saved together.
Receivers get `clinic` and `enrollment`.

`session_recorded` is sent inside the transaction that saves a floor-sheet row, created or updated
(scheduling's `session_log_save`, whose updates go through the queryset and send no `post_save`): billing/
listens and re-derives the enrollment's claim lines after the commit. Receivers get `instance`, the row.
"""

from django.dispatch import Signal

enrollment_ended = Signal()
session_recorded = Signal()
