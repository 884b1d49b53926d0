"""The load test's simulated staff (run by bench/loadtest.py; see docs/testing.md, "Load test").

Each simulated person signs in through the real sign-in form (the production password hasher), then opens
pages of their role with a pause between clicks, in these proportions:

    physiologists 6: floor sheet, chart, patient list, patient search, referral queue
    physicians    2: "My patients", an enrollment's progress
    admins        1: the KPI dashboard, the audit trail
    billing       1: claim lines, and the blocked ones (what billing staff work through)

Every page must answer 200 without a redirect (a redirect would be a lost session); the sign-in must answer
302 to somewhere other than the sign-in form. Anything else counts as an error, with its status.

Bounded: locust's -u (users) and -t (time), and LOADTEST_MAX_REQUESTS requests in all, after which the run
stops. Loopback only: a --host other than 127.0.0.1, ::1 or localhost is refused.
"""

import itertools
import json
import os
import random
from urllib.parse import urlsplit

import gevent
from locust import FastHttpUser, between, events, task

PLAN = json.loads(open(os.environ["LOADTEST_PLAN"]).read())  # noqa: SIM115 (read once at import)
MAX_REQUESTS = int(os.environ.get("LOADTEST_MAX_REQUESTS", "100000"))
WAIT_MIN, WAIT_MAX = (float(part) for part in os.environ.get("LOADTEST_WAIT", "0.25,0.75").split(","))
SEARCHES = ["Sm", "Jo", "Wil", "Br", "Gar", "Mi", "Da", "Ro", "Mar", "And"]
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
BASE = f"/c/{PLAN['clinic']}"
# Each role's accounts in turn: a new simulated person signs in as the next one (the physicians share one).
NEXT_ACCOUNT = {role: itertools.cycle(emails) for role, emails in PLAN["accounts"].items()}
sent = 0
environment = None


@events.init.add_listener
def on_init(environment, **_):
    host = urlsplit(environment.host or "").hostname
    if host not in LOOPBACK:
        raise SystemExit(f"The load test runs against this machine only (127.0.0.1), not {environment.host!r}.")
    globals()["environment"] = environment


@events.request.add_listener
def stop_after_max_requests(**_):
    global sent
    sent += 1
    if sent == MAX_REQUESTS and environment is not None and environment.runner is not None:
        gevent.spawn(environment.runner.quit)  # not from inside this request's own greenlet


# FastHttpUser (geventhttpclient) rather than HttpUser (requests): the load generator shares the two cores with
# gunicorn and PostgreSQL, and costs several times less CPU per request this way.
class Staff(FastHttpUser):
    abstract = True
    role = ""
    wait_time = between(WAIT_MIN, WAIT_MAX)

    def on_start(self):
        self.sign_in(next(NEXT_ACCOUNT[self.role]))

    def sign_in(self, email: str) -> None:
        self.client.get("/accounts/login/", name="sign-in form")
        data = {
            "login": email,
            "password": PLAN["password"],
            "csrfmiddlewaretoken": next((c.value for c in self.client.cookiejar if c.name == "csrftoken"), ""),
        }
        with self.client.post(
            "/accounts/login/", data=data, name="sign-in", allow_redirects=False, catch_response=True
        ) as response:
            location = response.headers.get("Location", "")
            if response.status_code != 302 or "/accounts/" in location:
                response.failure(f"HTTP {response.status_code} {location}".strip())

    def page(self, name: str, path: str) -> None:
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")


class Physiologist(Staff):
    role = "physiologist"
    weight = 6

    @task(3)
    def floor_sheet(self):
        self.page("floor sheet", f"/c/{PLAN['floor_clinic']}/classes/{PLAN['occurrence']}/floor/")

    @task(3)
    def chart(self):
        self.page("chart", f"{BASE}/patients/{random.choice(PLAN['patients'])}/")

    @task(2)
    def patient_list(self):
        self.page("patient list", f"{BASE}/patients/")

    @task(2)
    def patient_search(self):
        self.page("patient search", f"{BASE}/patients/?q={random.choice(SEARCHES)}")

    @task(2)
    def referral_queue(self):
        self.page("referral queue", f"{BASE}/referrals/")


class Physician(Staff):
    role = "physician"
    weight = 2

    @task(2)
    def my_patients(self):
        self.page("my patients", f"{BASE}/my-patients/")

    @task(3)
    def progress(self):
        patient, enrollment = random.choice(PLAN["progress"])
        self.page("progress", f"{BASE}/patients/{patient}/enrollments/{enrollment}/progress/")


class Admin(Staff):
    role = "admin"
    weight = 1

    @task
    def dashboard(self):
        self.page("kpi dashboard", f"{BASE}/dashboard/")

    @task
    def audit_trail(self):
        self.page("audit trail", f"{BASE}/audit/")


class Billing(Staff):
    role = "billing"
    weight = 1

    @task(2)
    def claim_lines(self):
        self.page("claim lines", f"{BASE}/billing/")

    @task
    def blocked_lines(self):
        self.page("blocked lines", f"{BASE}/billing/?status=blocked")
