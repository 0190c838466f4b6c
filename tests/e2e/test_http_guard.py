"""DNS-rebinding and cross-site defences of the UI/API port (shared/RELIABILITY.md §5):
a Host that is not ours is refused, and a state-changing request sent by a browser from
another site is refused, while the same request from our own page or a script goes through;
a browser session must repeat the CSRF token its pages carry."""
import re

import requests

from ui_browser import browser  # noqa: F401 - fixture

SQL = {"sql": "SELECT 1 AS one"}


def test_unknown_host_is_refused_and_loopback_ip_and_configured_names_are_served(server_factory):
    server = server_factory(env={"PERISCOPE_SERVER_ALLOWED_HOSTS": "periscope.example.com"}).start()
    port = server.addresses["http"].rsplit(":", 1)[1]
    url = server.api("/traces")

    refused = requests.get(url, headers={"Host": f"rebind.attacker.example:{port}"}, timeout=10)
    assert refused.status_code == 403
    assert "server.allowed_hosts" in refused.text

    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"periscope.example.com:{port}"):
        response = requests.get(url, headers={"Host": host}, timeout=10)
        assert response.status_code == 200, (host, response.status_code, response.text[:200])


def test_cross_site_post_is_refused_and_same_origin_or_script_post_is_served(server):
    url = server.api("/api/sql")
    own_origin = f"http://{server.addresses['http']}"

    from_attacker = requests.post(url, json=SQL, headers={"Origin": "http://attacker.example"}, timeout=10)
    assert from_attacker.status_code == 403
    assert "Origin" in from_attacker.text
    cross_site = requests.post(url, json=SQL, headers={"Sec-Fetch-Site": "cross-site"}, timeout=10)
    assert cross_site.status_code == 403

    from_our_page = requests.post(
        url, json=SQL, headers={"Origin": own_origin, "Sec-Fetch-Site": "same-origin"}, timeout=10)
    assert from_our_page.status_code == 200, from_our_page.text
    assert from_our_page.json()["rows"] == [[1]]
    from_script = requests.post(url, json=SQL, timeout=10)
    assert from_script.status_code == 200, from_script.text


def test_browser_session_must_repeat_its_csrf_token(server):
    page = requests.get(server.api("/traces"), timeout=10)
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
    token = re.match(r"periscope_csrf=([0-9a-f]{32});", cookie).group(1)
    assert f'"X-Periscope-CSRF": "{token}"' in page.text, "the page hands htmx the same token"
    api = requests.get(server.api("/api/services"), timeout=10)
    assert "Set-Cookie" not in api.headers, "API answers never start a browser session"

    url = server.api("/api/sql")
    session = {"Cookie": f"periscope_csrf={token}", "Origin": f"http://{server.addresses['http']}"}
    without = requests.post(url, json=SQL, headers=session, timeout=10)
    assert without.status_code == 403 and "CSRF token missing" in without.text, without.text
    wrong = requests.post(url, json=SQL, headers={**session, "X-Periscope-CSRF": "0" * 32}, timeout=10)
    assert wrong.status_code == 403 and "does not match" in wrong.text, wrong.text
    right = requests.post(url, json=SQL, headers={**session, "X-Periscope-CSRF": token}, timeout=10)
    assert right.status_code == 200, right.text


FETCH_SQL = """
const [withToken, done] = [arguments[0], arguments[arguments.length - 1]];
const headers = {"content-type": "application/json"};
if (withToken) Object.assign(headers, JSON.parse(document.body.getAttribute("hx-headers")));
fetch("/api/sql", {method: "POST", headers, body: JSON.stringify({sql: "SELECT 1 AS one"})})
  .then(r => done(r.status), e => done(String(e)));
"""


def test_chromium_sends_the_cookie_and_our_page_the_token(server, browser):
    browser.get(server.api("/traces"))
    assert browser.driver.execute_async_script(FETCH_SQL, False) == 403
    assert browser.driver.execute_async_script(FETCH_SQL, True) == 200
