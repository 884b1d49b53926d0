from django.contrib.staticfiles import finders


def test_healthz_reports_database_and_redis(client, db):
    response = client.get("/healthz")
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True


def test_pages_link_the_favicon_and_it_is_served(client, db):
    page = client.get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    assert finders.find("favicon.svg")
