"""DNS-rebinding and cross-site defences of the UI/API port (shared/RELIABILITY.md §5):
a Host that is not ours is refused, and a state-changing request sent by a browser from
another site is refused, while the same request from our own page or a script goes through."""
import requests

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
