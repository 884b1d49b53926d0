"""Events one app announces and another acts on, where the first may not import the second.

`enrollment_ended` is sent inside the transaction that ends an enrollment (referrals' discharge):
scheduling/ listens and gives the enrollment's future places back at once (freeing them for the
waitlist), in that same transaction, so a discharge and its freed places are saved together.
Receivers get `clinic` and `enrollment`.
"""

from django.dispatch import Signal

enrollment_ended = Signal()
