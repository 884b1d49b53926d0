"""Password hashing: Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).

Django 5.2's default, PBKDF2 with 1,000,000 rounds, costs about 0.5 s of a core per sign-in: a clinic's
morning shift signing in within a minute saturates a 2-core server (issue 11). Argon2id with these
parameters costs about 35 ms and stays memory-hard, which is what makes guessing on GPUs expensive. Hashes
made before are verified as they were and re-hashed with these parameters at the next sign-in.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    # Same algorithm name as Django's: its hashes verify here, and differing parameters mean "update".
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
